// What every fuzz target asserts of the lines it makes: a JSON line is valid
// JSON in valid UTF-8 (RFC 8259, RFC 3629) and a text line carries no control
// byte, DEL, C1 control or invalid UTF-8 to a terminal. A violation aborts,
// which libFuzzer reports as a crash with the input that caused it.
#pragma once

#include "../json.hpp"
#include "mqtrace/format.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace fuzzcheck {

[[noreturn]] inline void fail(const char* what, const std::string& line) {
    std::fprintf(stderr, "%s: %s\n", what, line.c_str());
    std::abort();
}

inline void json_line(const std::string& line) {
    if (!mqtrace::valid_utf8(line)) fail("JSON line is not valid UTF-8", line);
    try {
        (void)testjson::parse(line);
    } catch (const std::exception& e) {
        fail(e.what(), line);
    }
}

inline void text_line(const std::string& line) {
    for (unsigned char c : line)
        if (c < 0x20 || c == 0x7f || c >= 0x80) fail("text line carries a raw control or high byte", line);
}

} // namespace fuzzcheck
