// Formatters: calls and lost-event notices -> one line of text or JSON. Pure.
// Everything taken from the traced process (names, comm) is escaped: it is
// hostile input to a terminal or a parser.
#pragma once

#include "mqtrace/correlator.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>

namespace mqtrace {

// Perfetto: the Trace Event Format (a JSON array) that the Perfetto UI and
// chrome://tracing open: a slice per call, flows from send to receive, queue depths.
enum class OutputFormat { Text, Json, Perfetto };

// -T: how times are shown. JSON always has "time_ns" (Unix time); relative
// adds "rel_ns", iso adds "time" (ISO 8601).
enum class TimeMode {
    Wall,     // text: HH:MM:SS.uuuuuu (local time, or UTC with --utc)
    Relative, // seconds since tracing started: 1.234567
    Iso,      // 2026-12-02T14:43:29.123456+01:00 (text), nanoseconds in JSON
};

struct FormatOptions {
    OutputFormat format = OutputFormat::Text;
    std::int64_t clock_offset_ns = 0; // added to trace timestamps to get the Unix time
    bool utc = false;                 // text times in UTC instead of local time
    TimeMode time = TimeMode::Wall;
    std::uint64_t start_ts = 0; // trace time when tracing started (TimeMode::Relative)
    // The last second's "HH:MM:SS." or "YYYY-MM-DDTHH:MM:SS." and its zone
    // ("+01:00", "Z"): a cache, not an option.
    mutable struct {
        std::int64_t sec = INT64_MIN;
        int key = -1; // time mode and utc it was made for
        char prefix[32] = {};
        std::size_t len = 0;
        char zone[8] = {};
        std::size_t zone_len = 0;
    } time_cache;
    // Where append_item writes a line before appending it: kept from line to
    // line at its largest size, so that no line pays for growing a string.
    mutable std::string line_scratch;
    // The last "pid":P,"tid":T,"comm":C written and what it was written for:
    // a thread's calls come in runs, and their lines say the same.
    struct Who {
        int pid = 0, tid = 0;
        std::string comm, json; // json empty: none yet
    };
    mutable Who last_who;
    // -f perfetto: the tracks already named in the trace: threads (tid), the queues' process (-1),
    // CPUs (-2 - cpu).
    mutable std::unordered_set<int> perfetto_named;
};

std::string text_header(const FormatOptions& o = {});
std::string format_item(const Item& it, const FormatOptions& o);
// The same line (without '\n'), appended to out: the per-event path.
void append_item(const Item& it, const FormatOptions& o, std::string& out);

// What the formatters (text, JSON, journal) share.
const char* end_name(CallEnd e);                      // "returned", "thread-exited", ...
bool has_ret(const Call& c);                          // its return value is known
bool is_error(std::int64_t ret);                      // -4095..-1: an errno
bool decoded(const ArgSpec& spec, const ArgValue& a); // a string, or a struct with its layout
const char* queue_source_name(QueueSource s);         // "mq_open", "proc-fd", "msgget", "sysvipc"
const char* link_name(Link l);                        // "sent", "content", "order", "ambiguous", "unknown"

// Exposed for tests.
std::string escape_c(std::string_view bytes);    // "a\"b\x1b" (without quotes)
std::string escape_json(std::string_view bytes); // JSON string body (without quotes)
std::string escape(std::string_view bytes, bool json);
void append_escaped(std::string& out, std::string_view bytes, bool json);
bool valid_utf8(std::string_view bytes);
std::string render_args_text(const Call& c);

} // namespace mqtrace
