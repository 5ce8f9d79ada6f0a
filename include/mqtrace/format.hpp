// Formatters: calls and lost-event notices -> one line of text or JSON. Pure.
// Everything taken from the traced process (names, comm) is escaped: it is
// hostile input to a terminal or a parser.
#pragma once

#include "mqtrace/correlator.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace mqtrace {

enum class OutputFormat { Text, Json };

struct FormatOptions {
    OutputFormat format = OutputFormat::Text;
    std::int64_t clock_offset_ns = 0; // added to trace timestamps to get the Unix time
    bool utc = false;                 // text times in UTC instead of local time
    // The last second's "HH:MM:SS." (text times): a cache, not an option.
    mutable struct {
        std::int64_t sec = INT64_MIN;
        char hms[9] = {};
    } time_cache;
};

std::string text_header();
std::string format_item(const Item& it, const FormatOptions& o);
// The same line (without '\n'), appended to out: the per-event path.
void append_item(const Item& it, const FormatOptions& o, std::string& out);

// Exposed for tests.
std::string escape_c(std::string_view bytes);    // "a\"b\x1b" (without quotes)
std::string escape_json(std::string_view bytes); // JSON string body (without quotes)
std::string escape(std::string_view bytes, bool json);
void append_escaped(std::string& out, std::string_view bytes, bool json);
bool valid_utf8(std::string_view bytes);
std::string render_args_text(const Call& c);

} // namespace mqtrace
