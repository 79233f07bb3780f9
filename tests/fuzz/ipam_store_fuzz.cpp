// The IP store's files as host-local, shuttle or a crash left them. The input's "%%"
// sections: the query "<containerID>\t<ifname>", shuttle-index, last_reserved_ip.0, then
// reservation files ("<file name>\n<content>"). They are written to a fresh folder, then
// every reading path runs (queries as the plugin makes them: a valid container ID and ifname):
// last_reserved, list, get_by_id, release_by_id. Properties: what get_by_id finds is a reservation
// of that attachment in list(), and release_by_id removes exactly those.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "cni/environment.h"
#include "fuzz_input.h"
#include "ipam/store.h"

using namespace shuttle;
namespace fs = std::filesystem;

namespace {

const fs::path& scratch_dir() {
    static const fs::path dir = [] {
        fs::path base = fs::exists("/dev/shm") ? "/dev/shm" : fs::temp_directory_path();
        return base / ("shuttle-ipam-store-fuzz-" + std::to_string(::getpid()));
    }();
    return dir;
}

bool usable_file_name(const std::string& name) {
    return !name.empty() && name.size() < 200 && name != "." && name != ".." && name != "lock" &&
           name.find('/') == std::string::npos && name.find('\0') == std::string::npos;
}

void write(const fs::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

std::string trimmed(std::string text) {
    auto begin = text.find_first_not_of(" \t\r\n");
    if (begin == std::string::npos)
        return "";
    return text.substr(begin, text.find_last_not_of(" \t\r\n") - begin + 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto parts = fuzz::sections(fuzz::as_text(data, size));
    parts.resize(std::max<size_t>(parts.size(), 3));
    auto tab = parts[0].find('\t');
    std::string container_id = parts[0].substr(0, tab);
    std::string ifname = tab == std::string::npos ? "" : parts[0].substr(tab + 1);
    // The plugin only asks with a validated CNI_CONTAINERID and CNI_IFNAME.
    if (!cni::is_valid_identifier(container_id) || !cni::is_valid_ifname(ifname))
        return 0;

    const fs::path dir = scratch_dir() / "net";
    fs::remove_all(scratch_dir());
    fs::create_directories(dir);
    write(dir / "shuttle-index", parts[1]);
    write(dir / "last_reserved_ip.0", parts[2]);
    for (size_t i = 3; i < parts.size(); ++i) {
        auto nl = parts[i].find('\n');
        auto name = parts[i].substr(0, nl);
        if (usable_file_name(name))
            write(dir / name, nl == std::string::npos ? "" : parts[i].substr(nl + 1));
    }

    ipam::Store store(scratch_dir().string(), "net");
    store.last_reserved(0);
    auto all = store.list();
    auto found = store.get_by_id(container_id, ifname);
    for (const auto& ip : found) {
        bool listed = std::any_of(all.begin(), all.end(), [&](const auto& r) {
            return r.ip == ip && r.container_id == trimmed(container_id) && r.ifname == ifname;
        });
        if (!listed)
            fuzz::broken("get_by_id found an address that is not this attachment's");
    }
    auto released = store.release_by_id(container_id, ifname);
    if (!found.empty()) {
        std::sort(found.begin(), found.end());
        std::sort(released.begin(), released.end());
        if (found != released)
            fuzz::broken("release_by_id released other addresses than get_by_id found");
    }
    fs::remove_all(scratch_dir());
    return 0;
}
