#pragma once

#include <string>

#include "cni/config.h"
#include "cni/environment.h"

namespace shuttle::plugin {

std::string cmd_add(const cni::Environment& env, const cni::NetConf& conf);
void cmd_del(const cni::Environment& env, const cni::NetConf& conf);
void cmd_check(const cni::Environment& env, const cni::NetConf& conf);
void cmd_status(const cni::Environment& env, const cni::NetConf& conf);
void cmd_gc(const cni::Environment& env, const cni::NetConf& conf);

}  // namespace shuttle::plugin
