#pragma once

// Everything of the netlink module in one include.

#include "netlink/address.h"
#include "netlink/error.h"
#include "netlink/fdb.h"
#include "netlink/link.h"
#include "netlink/neighbour.h"
#include "netlink/route.h"
#include "netlink/socket.h"
