#pragma once

// Helpers shared by the fuzz targets: inputs stay readable text, parts separated by a
// "%%" line, so seeds can be written by hand and the dictionaries can name the separator.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shuttle::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// "a\n%%\nb" -> {"a", "b"}.
inline std::vector<std::string> sections(std::string_view text) {
    constexpr std::string_view kSeparator = "\n%%\n";
    std::vector<std::string> out;
    for (;;) {
        auto at = text.find(kSeparator);
        out.emplace_back(text.substr(0, at));
        if (at == std::string_view::npos)
            return out;
        text.remove_prefix(at + kSeparator.size());
    }
}

// Runs parse(): the parser may refuse the input with a Refusal only; any other exception
// escapes and libFuzzer reports it as a crash.
template <class Refusal, class Parse>
void parse_or_refuse(Parse parse) {
    try {
        parse();
    } catch (const Refusal&) {
    }
}

// Aborts the run: a property the parser promises was broken (libFuzzer reports it as a crash).
[[noreturn]] inline void broken(const char* what) {
    __builtin_printf("property broken: %s\n", what);
    __builtin_trap();
}

}  // namespace shuttle::fuzz
