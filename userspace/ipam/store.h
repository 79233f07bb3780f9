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
//
// Next to it, shuttle-index: one line "<containerID>\t<ifname>\t<ip>" per reservation
// shuttle made, appended. host-local finds an attachment by reading every file of the
// store, which made each ADD slower with every pod on the node; the index is read once. It
// is a hint: each line is checked against the reservation it names, so releases (by
// shuttle or by host-local, which ignores the file) need not touch it, and dead lines are
// dropped when it is rewritten. A store without it, and a release it does not know, fall
// back to reading every file. Appending costs ~6 us; creating a file here costs ~200 us.
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
    static constexpr const char* kIndexFile = "shuttle-index";
    static constexpr long kIndexCompactBytes = 64L * 1024;
    std::string index_path() const;
    void rebuild_index();
    void index_add(const IpAddress& ip, const std::string& container_id, const std::string& ifname);
    // The attachment's addresses by the index; nullopt when the store has no index yet.
    std::optional<std::vector<IpAddress>> indexed(const std::string& container_id,
                                                  const std::string& ifname) const;

    std::string dir_;
};

}  // namespace shuttle::ipam
