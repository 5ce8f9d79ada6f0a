// Text and JSON lines. See include/mqtrace/format.hpp.
#include "mqtrace/format.hpp"

#include "mqtrace/catalog.hpp"
#include "mqtrace/xlat.hpp"

#include <charconv>
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

// JSON is appended to one buffer, numbers with std::to_chars: no temporary
// strings on the per-event path.
void put(std::string& out, std::string_view s) { out.append(s.data(), s.size()); }

template <typename T> void put_num(std::string& out, T v) {
    char b[24];
    const auto r = std::to_chars(b, b + sizeof b, v);
    out.append(b, static_cast<std::size_t>(r.ptr - b));
}

void put_str(std::string& out, std::string_view s) {
    out += '"';
    append_escaped(out, s, true);
    out += '"';
}

// "name": the key of an object member, after a comma unless first.
void put_key(std::string& out, std::string_view name, bool first) {
    if (!first) out += ',';
    out += '"';
    put(out, name);
    put(out, "\":");
}

void put_content(std::string& out, const ArgSpec& spec, const ArgValue& a) {
    if (a.content == Content::Str) {
        put_str(out, a.str);
        return;
    }
    out += '{';
    for (std::size_t m = 0; m < spec.layout->members.size(); ++m) {
        put_key(out, spec.layout->members[m].name, m == 0);
        put_num(out, m < a.members.size() ? a.members[m] : 0);
    }
    out += '}';
}

void put_tags(std::string& out, unsigned catalog_tags, Source src) {
    out += '[';
    bool first = true;
    auto add = [&](std::string_view t) {
        if (!first) out += ',';
        first = false;
        out += '"';
        put(out, t);
        out += '"';
    };
    if (src == Source::KernelCopy) add("K");
    if (src == Source::UserAtEntry || src == Source::UserLate || src == Source::UserStack) {
        add("U");
        add("TOCTOU");
    }
    if (catalog_tags & kTagOPT) add("OPT");
    out += ']';
}

void json_line(const Call& c, const FormatOptions& o, std::string& j) {
    const EventSpec& ev = catalog()[c.ev];
    put(j, "{\"event\":\"");
    put(j, ev.name);
    put(j, "\",\"time_ns\":");
    put_num(j, static_cast<std::int64_t>(c.ts) + o.clock_offset_ns);
    put(j, ",\"cpu\":");
    put_num(j, c.cpu);
    put(j, ",\"pid\":");
    c.pid < 0 ? put(j, "null") : put_num(j, c.pid);
    put(j, ",\"tid\":");
    put_num(j, c.tid);
    put(j, ",\"comm\":");
    c.comm.empty() ? put(j, "null") : put_str(j, c.comm);
    const bool done = has_ret(c);
    put(j, ",\"ret\":");
    done ? put_num(j, c.ret) : put(j, "null");
    put(j, ",\"errno\":");
    if (done && c.ret < 0 && c.ret >= -4095)
        put_str(j, errno_name(static_cast<int>(-c.ret)));
    else
        put(j, "null");
    put(j, ",\"latency_ns\":");
    c.end == CallEnd::Returned ? put_num(j, c.ts_end - c.ts) : put(j, "null");
    put(j, ",\"end\":\"");
    put(j, end_name(c.end));
    put(j, "\",\"args\":{");
    bool any_late = false;
    for (std::size_t i = 0; i < ev.args.size(); ++i) {
        const ArgSpec& spec = ev.args[i];
        const ArgValue& a = c.args[i];
        const bool decoded = a.content == Content::Str || (a.content == Content::Struct && spec.layout);
        const bool pointer = spec.decode == Decode::Struct || spec.decode == Decode::Name;
        put_key(j, spec.name, i == 0);
        if (decoded && a.src != Source::UserLate)
            put_content(j, spec, a);
        else if (!a.present || (pointer && a.raw == 0))
            put(j, "null"); // unknown, or a NULL pointer
        else if (spec.decode == Decode::UInt || spec.decode == Decode::Ptr || pointer)
            put_num(j, static_cast<std::uint64_t>(a.raw)); // an address is never null when it is not NULL
        else
            put_num(j, a.raw);
        any_late = any_late || (decoded && a.src == Source::UserLate);
    }
    j += '}';
    if (any_late) { // read after the call: beside the arguments, never as one
        put(j, ",\"late\":{");
        bool first = true;
        for (std::size_t i = 0; i < ev.args.size(); ++i) {
            const ArgValue& a = c.args[i];
            const bool decoded =
                a.content == Content::Str || (a.content == Content::Struct && ev.args[i].layout);
            if (!decoded || a.src != Source::UserLate) continue;
            put_key(j, ev.args[i].name, first);
            first = false;
            put_content(j, ev.args[i], a);
        }
        j += '}';
    }
    put(j, ",\"arg_info\":{");
    bool first = true;
    for (std::size_t i = 0; i < ev.args.size(); ++i) {
        const ArgSpec& spec = ev.args[i];
        const ArgValue& a = c.args[i];
        if (a.content == Content::None) continue;
        put_key(j, spec.name, first);
        first = false;
        put(j, "{\"tags\":");
        put_tags(j, spec.tags, a.src);
        put(j, ",\"source\":\"");
        put(j, source_name(a.src));
        j += '"';
        if (a.content == Content::Unreadable) {
            put(j, ",\"unreadable\":");
            put_str(j, a.why);
        }
        if (a.content == Content::Str && !valid_utf8(a.str)) {
            put(j, ",\"hex\":\"");
            put(j, hexbytes(a.str));
            j += '"';
        }
        if (a.suspect_fault) put(j, ",\"suspect_fault\":true");
        j += '}';
    }
    put(j, "}}");
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

void append_item(const Item& it, const FormatOptions& o, std::string& out) {
    if (it.is_call && o.format == OutputFormat::Json) {
        json_line(it.call, o, out);
        return;
    }
    if (it.is_call) {
        out += text_line(it.call, o);
        return;
    }
    const LostNotice& l = it.lost;
    const std::string count = l.count < 0 ? "unknown" : std::to_string(l.count);
    if (o.format == OutputFormat::Json) {
        out += "{\"event\":\"lost\",\"time_ns\":" +
               std::to_string(static_cast<std::int64_t>(l.ts) + o.clock_offset_ns) +
               ",\"cpu\":" + (l.cpu < 0 ? std::string("null") : std::to_string(l.cpu)) +
               ",\"count\":" + (l.count < 0 ? std::string("null") : count) + ",\"where\":\"" +
               escape_json(l.where) + "\"}";
        return;
    }
    char head[160];
    std::snprintf(head, sizeof head, "%-15s %-7s %-7s %-16s %-15s ", time_text(l.ts, o).c_str(), "-", "-",
                  "-", "LOST");
    const std::string where = l.cpu < 0 ? "" : " on cpu " + std::to_string(l.cpu);
    out += head + count + " events lost" + where + " (" + escape_c(l.where) + ")";
}

std::string format_item(const Item& it, const FormatOptions& o) {
    std::string out;
    append_item(it, o, out);
    return out;
}

// RFC 3629: no overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF.
bool valid_utf8(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    for (std::size_t i = 0; i < n;) {
        const unsigned c = p[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t len;
        unsigned lo = 0x80, hi = 0xbf; // allowed range of the second byte
        if (c >= 0xc2 && c <= 0xdf)
            len = 2;
        else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            if (c == 0xe0) lo = 0xa0; // overlong
            if (c == 0xed) hi = 0x9f; // surrogates
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            if (c == 0xf0) lo = 0x90; // overlong
            if (c == 0xf4) hi = 0x8f; // above U+10FFFF
        } else {
            return false; // continuation byte, C0/C1 (overlong), F5..FF
        }
        if (n - i < len) return false;
        if (p[i + 1] < lo || p[i + 1] > hi) return false;
        for (std::size_t k = 2; k < len; ++k)
            if (p[i + k] < 0x80 || p[i + k] > 0xbf) return false;
        i += len;
    }
    return true;
}

// One escaper for both outputs: the printable ASCII passes, the usual C
// escapes for quote, backslash, newline, tab and CR, and everything else as
// \xNN (terminal) or \u00NN (JSON). JSON lets valid UTF-8 through.
void append_escaped(std::string& out, std::string_view s, bool json) {
    bool high = false;
    for (unsigned char c : s)
        high = high || c >= 0x80;
    const bool keep_high = json && high && valid_utf8(s);
    static constexpr char kHex[] = "0123456789abcdef";
    auto plain = [&](unsigned char c) {
        return c >= 0x20 && c != 0x7f && c != '"' && c != '\\' && (c < 0x80 || keep_high);
    };
    for (std::size_t i = 0; i < s.size();) {
        std::size_t j = i;
        while (j < s.size() && plain(static_cast<unsigned char>(s[j])))
            ++j;
        out.append(s.data() + i, j - i); // runs of plain bytes at once
        if (j == s.size()) break;
        const auto c = static_cast<unsigned char>(s[j]);
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        case '\r': out += "\\r"; break;
        default:
            out += json ? "\\u00" : "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
        i = j + 1;
    }
}

std::string escape(std::string_view s, bool json) {
    std::string out;
    out.reserve(s.size());
    append_escaped(out, s, json);
    return out;
}

std::string escape_c(std::string_view s) { return escape(s, false); }

// Bytes >= 0x80 of a string that is not valid UTF-8 become \u00NN (then "hex"
// in arg_info carries the exact bytes).
std::string escape_json(std::string_view s) { return escape(s, true); }

} // namespace mqtrace
