// The watch stream as curl delivers it: arbitrary chunks (the input's "%%" sections) fed to
// LineSplitter, each complete line to parse_watch_line (returns or throws etcd::Error). The
// lines handed out are exactly the stream's non-empty lines, '\r' dropped.
#include <string>
#include <vector>

#include "etcd/codec.h"
#include "fuzz_input.h"

using namespace shuttle;

namespace {

std::vector<std::string> expected_lines(const std::string& stream) {
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t nl; (nl = stream.find('\n', start)) != std::string::npos; start = nl + 1) {
        auto line = stream.substr(start, nl - start);
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (!line.empty())
            out.push_back(line);
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    etcd::LineSplitter splitter;
    std::string stream;
    std::vector<std::string> lines;
    auto on_line = [&](std::string_view line) {
        lines.emplace_back(line);
        fuzz::parse_or_refuse<etcd::Error>([&] { etcd::parse_watch_line(line); });
    };
    for (const auto& chunk : fuzz::sections(fuzz::as_text(data, size))) {
        stream += chunk;
        splitter.feed(chunk, on_line);
    }
    if (lines != expected_lines(stream))
        fuzz::broken("LineSplitter's lines differ from the stream's");
    auto rest = splitter.take_rest();
    if (rest.find('\n') != std::string::npos || !stream.ends_with(rest))
        fuzz::broken("LineSplitter kept a complete line");
    fuzz::parse_or_refuse<etcd::Error>([&] { etcd::parse_watch_line(rest); });
    return 0;
}
