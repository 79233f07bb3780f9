#pragma once

// Another build of the datapath's BPF object, read from a file the tests' CMake built
// (tests/CMakeLists.txt): what a newer or an older shuttle would load, for the upgrade tests.
//   shuttle_variant.bpf.o  the same sources, one program constant changed: the same layout
//   shuttle_layout2.bpf.o  a test-only layout 2 (SHUTTLE_TEST_LAYOUT_BUMP): nat_pairs' (and
//                          nat_pairs6') value gains a field, carried by the conversion below

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "datapath/datapath.h"

namespace shuttle::test {

// shuttle_nat_seen of the test layout 2: {last_seen_ns, test_first_seen_ns}, the value of
// nat_pairs and of nat_pairs6.
inline shuttle::datapath::MapConversion nat_pairs_into_test_layout2(const char* map) {
    shuttle::datapath::MapConversion conversion;
    conversion.from_layout = 1;
    conversion.map = map;
    conversion.convert = [](const std::vector<uint8_t>& key, const std::vector<uint8_t>& value,
                            std::vector<uint8_t>& new_key, std::vector<uint8_t>& new_value) {
        if (key.size() != new_key.size() || value.size() != 8 || new_value.size() != 16) {
            return false;
        }
        new_key = key;
        std::memcpy(new_value.data(), value.data(), 8);      // last_seen_ns
        std::memcpy(new_value.data() + 8, value.data(), 8);  // test_first_seen_ns: the same
        return true;
    };
    return conversion;
}

class OtherBuild {
  public:
    // `serial` ranks it against the pinned build; `layout` is what the object was built with.
    OtherBuild(const std::string& object_path, uint32_t serial, uint32_t layout) {
        std::ifstream in(object_path, std::ios::binary);
        if (!in) {
            throw std::runtime_error("cannot read " + object_path);
        }
        elf_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        build_.elf = elf_.data();
        build_.elf_size = elf_.size();
        build_.hash = fnv1a(elf_);
        build_.serial = serial;
        build_.layout = layout;
        if (layout == 2) {
            build_.conversions.push_back(nat_pairs_into_test_layout2("nat_pairs"));
            build_.conversions.push_back(nat_pairs_into_test_layout2("nat_pairs6"));
        }
    }
    OtherBuild(const OtherBuild&) = delete;
    OtherBuild& operator=(const OtherBuild&) = delete;

    const shuttle::datapath::Build& build() const { return build_; }

  private:
    static uint64_t fnv1a(const std::vector<char>& bytes) {
        uint64_t hash = 1469598103934665603ull;
        for (char c : bytes) {
            hash = (hash ^ static_cast<uint8_t>(c)) * 1099511628211ull;
        }
        return hash;
    }

    std::vector<char> elf_;
    shuttle::datapath::Build build_;
};

}  // namespace shuttle::test
