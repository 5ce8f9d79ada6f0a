// Text and JSON lines. See include/mqtrace/format.hpp.
#include "mqtrace/format.hpp"

#include "mqtrace/catalog.hpp"
#include "mqtrace/xlat.hpp"

#include <cstdio>
#include <ctime>

namespace mqtrace {
namespace {

constexpr std::int64_t kOCreat = 0100;

std::string hexbytes(std::string_view s) {
    static const char* d = "0123456789abcdef";
    std::string out;
    for (unsigned char c : s) {
        out += d[c >> 4];
        out += d[c & 15];
    }
    return out;
}

// strace omits mode and attr of mq_open when O_CREAT is not set: they are unused.
bool shown(const Call& c, std::size_t i) {
    const EventSpec& ev = catalog()[c.ev];
    if (ev.name != "mq_open" || (ev.args[i].name != "mode" && ev.args[i].name != "attr")) return true;
    return c.args[1].present && (c.args[1].raw & kOCreat);
}

std::string struct_text(const StructLayout& l, const ArgValue& a) {
    std::string out = "{";
    for (std::size_t m = 0; m < l.members.size(); ++m) {
        if (m) out += ", ";
        out += std::string(l.members[m].name) + "=";
        out += render_scalar(l.members[m].decode, m < a.members.size() ? a.members[m] : 0);
    }
    return out + "}";
}

// A value read after the call (user-late) may not be what the kernel saw: the
// argument is its address, and the late read follows it behind '~'.
std::string arg_text(const ArgSpec& spec, const ArgValue& a) {
    std::string value;
    if (a.content == Content::Str)
        value = "\"" + escape_c(a.str) + "\"";
    else if (a.content == Content::Struct && spec.layout)
        value = struct_text(*spec.layout, a);
    if (!value.empty() && a.src != Source::UserLate) return value;
    if (!a.present) return value.empty() ? "?" : "?~" + value;
    const bool pointer = spec.decode == Decode::Name || spec.decode == Decode::Struct;
    std::string out = render_scalar(pointer ? Decode::Ptr : spec.decode, a.raw);
    if (a.content == Content::Unreadable) return out + " <unreadable: " + a.why + ">";
    return value.empty() ? out : out + "~" + value;
}

bool has_ret(const Call& c) { return c.end == CallEnd::Returned || c.end == CallEnd::EntryNotSeen; }

std::string ret_text(const Call& c) {
    if (!has_ret(c)) return "?";
    if (c.ret < 0 && c.ret >= -4095) return "-1 " + errno_name(static_cast<int>(-c.ret));
    return std::to_string(c.ret);
}

const char* end_name(CallEnd e) {
    switch (e) {
    case CallEnd::Returned: return "returned";
    case CallEnd::ThreadExited: return "thread-exited";
    case CallEnd::NoReturnSeen: return "no-return-seen";
    case CallEnd::TraceEnded: return "trace-ended";
    case CallEnd::EntryNotSeen: return "entry-not-seen";
    }
    return "?";
}

std::string time_text(std::uint64_t ts, const FormatOptions& o) {
    const std::int64_t ns = static_cast<std::int64_t>(ts) + o.clock_offset_ns;
    const time_t sec = static_cast<time_t>(ns / 1000000000);
    tm t{};
    if (o.utc)
        gmtime_r(&sec, &t);
    else
        localtime_r(&sec, &t);
    char b[40];
    std::snprintf(b, sizeof b, "%02d:%02d:%02d.%06lld", t.tm_hour, t.tm_min, t.tm_sec,
                  static_cast<long long>((ns % 1000000000) / 1000));
    return b;
}

std::string tags_json(unsigned catalog_tags, Source src) {
    std::string t = "[";
    auto add = [&](const char* s) {
        if (t.size() > 1) t += ",";
        t += "\"";
        t += s;
        t += "\"";
    };
    if (src == Source::KernelCopy) add("K");
    if (src == Source::UserAtEntry || src == Source::UserLate) {
        add("U");
        add("TOCTOU");
    }
    if (catalog_tags & kTagOPT) add("OPT");
    return t + "]";
}

std::string text_line(const Call& c, const FormatOptions& o) {
    const EventSpec& ev = catalog()[c.ev];
    char head[160];
    std::string comm = escape_c(c.comm.empty() ? "?" : c.comm);
    std::string lat =
        c.end == CallEnd::Returned ? std::to_string((c.ts_end - c.ts) / 1000) : std::string("-");
    std::snprintf(head, sizeof head, "%-15s %-7s %-7d %-16s %-15s %-15s %-8s ", time_text(c.ts, o).c_str(),
                  c.pid < 0 ? "?" : std::to_string(c.pid).c_str(), c.tid, comm.c_str(),
                  std::string(ev.name).c_str(), ret_text(c).c_str(), lat.c_str());
    std::string line = head + (c.end == CallEnd::EntryNotSeen ? std::string() : render_args_text(c));
    if (c.end != CallEnd::Returned) line += std::string(" <") + end_name(c.end) + ">";
    return line;
}

std::string json_line(const Call& c, const FormatOptions& o) {
    const EventSpec& ev = catalog()[c.ev];
    std::string j = "{\"event\":\"" + std::string(ev.name) + "\"";
    j += ",\"time_ns\":" + std::to_string(static_cast<std::int64_t>(c.ts) + o.clock_offset_ns);
    j += ",\"cpu\":" + std::to_string(c.cpu);
    j += ",\"pid\":" + (c.pid < 0 ? std::string("null") : std::to_string(c.pid));
    j += ",\"tid\":" + std::to_string(c.tid);
    j += ",\"comm\":" + (c.comm.empty() ? std::string("null") : "\"" + escape_json(c.comm) + "\"");
    const bool done = has_ret(c);
    j += ",\"ret\":" + (done ? std::to_string(c.ret) : std::string("null"));
    j += ",\"errno\":" + (done && c.ret < 0 && c.ret >= -4095
                              ? "\"" + errno_name(static_cast<int>(-c.ret)) + "\""
                              : std::string("null"));
    j += ",\"latency_ns\":" +
         (c.end == CallEnd::Returned ? std::to_string(c.ts_end - c.ts) : std::string("null"));
    j += std::string(",\"end\":\"") + end_name(c.end) + "\"";
    std::string args, info, late;
    for (std::size_t i = 0; i < ev.args.size(); ++i) {
        const ArgSpec& spec = ev.args[i];
        const ArgValue& a = c.args[i];
        std::string value; // the decoded content, if any
        if (a.content == Content::Str) {
            value = "\"" + escape_json(a.str) + "\"";
        } else if (a.content == Content::Struct && spec.layout) {
            value = "{";
            for (std::size_t m = 0; m < spec.layout->members.size(); ++m) {
                if (m) value += ",";
                value += "\"" + std::string(spec.layout->members[m].name) +
                         "\":" + std::to_string(m < a.members.size() ? a.members[m] : 0);
            }
            value += "}";
        }
        const bool pointer = spec.decode == Decode::Struct || spec.decode == Decode::Name;
        args += (i ? ",\"" : "\"") + std::string(spec.name) + "\":";
        if (!value.empty() && a.src != Source::UserLate) {
            args += value;
        } else if (!a.present || (pointer && a.raw == 0)) {
            args += "null"; // unknown, or a NULL pointer
        } else {
            // The address: a pointer whose content is unreadable or was read late is never null.
            args += spec.decode == Decode::UInt || spec.decode == Decode::Ptr || pointer
                        ? std::to_string(static_cast<std::uint64_t>(a.raw))
                        : std::to_string(a.raw);
        }
        if (!value.empty() && a.src == Source::UserLate)
            late += (late.empty() ? "\"" : ",\"") + std::string(spec.name) + "\":" + value;
        if (a.content != Content::None) {
            if (!info.empty()) info += ",";
            info += "\"" + std::string(spec.name) + "\":{\"tags\":" + tags_json(spec.tags, a.src) +
                    ",\"source\":\"" + source_name(a.src) + "\"";
            if (a.content == Content::Unreadable) info += ",\"unreadable\":\"" + escape_json(a.why) + "\"";
            if (a.content == Content::Str && !valid_utf8(a.str))
                info += ",\"hex\":\"" + hexbytes(a.str) + "\"";
            if (a.suspect_fault) info += ",\"suspect_fault\":true";
            info += "}";
        }
    }
    j += ",\"args\":{" + args + "}";
    if (!late.empty()) j += ",\"late\":{" + late + "}";
    j += ",\"arg_info\":{" + info + "}}";
    return j;
}

} // namespace

std::string text_header() {
    char b[160];
    std::snprintf(b, sizeof b, "%-15s %-7s %-7s %-16s %-15s %-15s %-8s %s", "TIME", "PID", "TID", "COMM",
                  "EVENT", "RET", "LAT(us)", "ARGS");
    return b;
}

std::string render_args_text(const Call& c) {
    const EventSpec& ev = catalog()[c.ev];
    std::string out;
    for (std::size_t i = 0; i < ev.args.size(); ++i) {
        if (!shown(c, i)) continue;
        if (!out.empty()) out += ", ";
        out += std::string(ev.args[i].name) + "=" + arg_text(ev.args[i], c.args[i]);
    }
    return out;
}

std::string format_item(const Item& it, const FormatOptions& o) {
    if (it.is_call) return o.format == OutputFormat::Json ? json_line(it.call, o) : text_line(it.call, o);
    const LostNotice& l = it.lost;
    const std::string count = l.count < 0 ? "unknown" : std::to_string(l.count);
    if (o.format == OutputFormat::Json)
        return "{\"event\":\"lost\",\"time_ns\":" +
               std::to_string(static_cast<std::int64_t>(l.ts) + o.clock_offset_ns) +
               ",\"cpu\":" + (l.cpu < 0 ? std::string("null") : std::to_string(l.cpu)) +
               ",\"count\":" + (l.count < 0 ? std::string("null") : count) + ",\"where\":\"" +
               escape_json(l.where) + "\"}";
    char head[160];
    std::snprintf(head, sizeof head, "%-15s %-7s %-7s %-16s %-15s ", time_text(l.ts, o).c_str(), "-", "-",
                  "-", "LOST");
    const std::string where = l.cpu < 0 ? "" : " on cpu " + std::to_string(l.cpu);
    return head + count + " events lost" + where + " (" + escape_c(l.where) + ")";
}

bool valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        if (c < 0x80)
            n = 0;
        else if (c >= 0xc2 && c <= 0xdf)
            n = 1;
        else if (c >= 0xe0 && c <= 0xef)
            n = 2;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 3;
        else
            return false;
        if (i + n >= s.size()) return false;
        for (std::size_t k = 1; k <= n; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
        i += n + 1;
    }
    return true;
}

namespace {

// One escaper for both outputs: the printable ASCII passes, the usual C
// escapes for quote, backslash, newline, tab and CR, and everything else as
// \xNN (terminal) or \u00NN (JSON). JSON lets valid UTF-8 through.
std::string escape(std::string_view s, bool json) {
    const bool keep_high = json && valid_utf8(s);
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        case '\r': out += "\\r"; break;
        default:
            if (c < 0x20 || c == 0x7f || (c >= 0x80 && !keep_high)) {
                char b[8];
                std::snprintf(b, sizeof b, json ? "\\u%04x" : "\\x%02x", c);
                out += b;
            } else {
                out += static_cast<char>(c);
            }
        }
    }
    return out;
}

} // namespace

std::string escape_c(std::string_view s) { return escape(s, false); }

// Bytes >= 0x80 of a string that is not valid UTF-8 become \u00NN (then "hex"
// in arg_info carries the exact bytes).
std::string escape_json(std::string_view s) { return escape(s, true); }

} // namespace mqtrace
