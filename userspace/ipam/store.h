#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/ip.h"
#include "common/unique_fd.h"

namespace shuttle::ipam {

// host-local's on-disk store, byte for byte: <dataDir>/<network>/<ip> holding
// "<containerID>\r\n<ifname>", last_reserved_ip.<N>, and <dir>/lock taken with flock, so
// shuttle and host-local see each other's reservations.
class Store {
  public:
    struct Reservation {
        IpAddress ip;
        std::string container_id;
        std::string ifname;  // empty for host-local's old format (container ID only)
    };

    // Holds the whole-store flock until destroyed.
    class Lock {
      public:
        explicit Lock(UniqueFd fd) : fd_(std::move(fd)) {}

      private:
        UniqueFd fd_;
    };

    Store(const std::string& data_dir, const std::string& network);
    const std::string& dir() const { return dir_; }

    // Creates the folder (0755) and the lock file, and blocks on flock(LOCK_EX).
    Lock lock();

    // Creates <dir>/<ip> exclusively; false when taken. Records last_reserved_ip.<range_set>.
    bool reserve(const IpAddress& ip, const std::string& container_id, const std::string& ifname,
                 int range_set);
    std::optional<IpAddress> last_reserved(int range_set) const;
    std::vector<IpAddress> get_by_id(const std::string& container_id,
                                     const std::string& ifname) const;
    // Removes every reservation of (container, ifname); a missing one is no error.
    std::vector<IpAddress> release_by_id(const std::string& container_id,
                                         const std::string& ifname);
    bool release(const IpAddress& ip);
    std::vector<Reservation> list() const;

  private:
    std::string dir_;
};

}  // namespace shuttle::ipam
