// Text and JSON lines. See include/mqtrace/format.hpp.
#include "mqtrace/format.hpp"

#include "mqtrace/catalog.hpp"
#include "mqtrace/schema.hpp"
#include "mqtrace/xlat.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <type_traits>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace mqtrace {
namespace {

constexpr std::int64_t kOCreat = 0100;

// Bytes that pass unescaped: printable ASCII but quote and backslash (1), and
// bytes >= 0x80 (2), which pass only in JSON strings that are valid UTF-8.
constexpr std::array<unsigned char, 256> kClass = [] {
    std::array<unsigned char, 256> t{};
    for (int c = 0x20; c < 0x7f; ++c)
        t[static_cast<std::size_t>(c)] = 1;
    t['"'] = t['\\'] = 0;
    for (int c = 0x80; c < 0x100; ++c)
        t[static_cast<std::size_t>(c)] = 2;
    return t;
}();

// The end of the run of plain bytes (kClass 1) from i, sixteen (SSE2) or
// eight at a time: none below 0x20, none above 0x7e, no quote, no backslash.
// It may stop before the run's end (the caller goes on byte by byte).
std::size_t plain_ascii(const unsigned char* b, std::size_t i, std::size_t n) {
#ifdef __SSE2__
    const __m128i space = _mm_set1_epi8(0x20), del7f = _mm_set1_epi8(0x7f);
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    for (; i + 16 <= n; i += 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i));
        // Signed bytes: those >= 0x80 are negative, below 0x20 as the controls are.
        const __m128i bad = _mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(v, space), _mm_cmpeq_epi8(v, del7f)),
                                         _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));
        if (const int m = _mm_movemask_epi8(bad))
            return i + static_cast<std::size_t>(std::countr_zero(static_cast<unsigned>(m)));
    }
#endif
    constexpr std::uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, b + i, 8);
        const std::uint64_t ctl = (w - ones * 0x20) & ~w;   // a byte < 0x20 (or >= 0x80)
        const std::uint64_t del = (w + ones * 0x01) & high; // a byte >= 0x7f
        const std::uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');
        const std::uint64_t eq = ((q - ones) & ~q) | ((bs - ones) & ~bs); // a zero byte: quote or backslash
        if ((ctl | del | eq | w) & high) break;
    }
    return i;
}

// memcpy for the short pieces a line is made of (keys, names, numbers' runs),
// inline: overlapping 8-byte moves, every byte read and written once or twice
// inside [0, n). Longer pieces go to memcpy.
inline void copy_short(char* d, const void* src, std::size_t n) {
    const auto* s = static_cast<const char*>(src);
    std::uint64_t a, b;
    if (n >= 8 && n <= 16) {
        std::memcpy(&a, s, 8);
        std::memcpy(&b, s + n - 8, 8);
        std::memcpy(d, &a, 8);
        std::memcpy(d + n - 8, &b, 8);
    } else if (n > 16) {
        std::memcpy(d, s, n);
    } else if (n >= 4) {
        std::uint32_t x, y;
        std::memcpy(&x, s, 4);
        std::memcpy(&y, s + n - 4, 4);
        std::memcpy(d, &x, 4);
        std::memcpy(d + n - 4, &y, 4);
    } else {
        for (std::size_t i = 0; i < n; ++i)
            d[i] = s[i];
    }
}

// The decimal digits of v at p (room for 20), returning their end: the count
// of digits from the bit width, then four digits per division from the end
// (std::to_chars counts them with a loop of divisions first).
constexpr std::array<char, 200> kDigitPairs = [] {
    std::array<char, 200> t{};
    for (int i = 0; i < 100; ++i) {
        t[static_cast<std::size_t>(2 * i)] = static_cast<char>('0' + i / 10);
        t[static_cast<std::size_t>(2 * i + 1)] = static_cast<char>('0' + i % 10);
    }
    return t;
}();
constexpr std::array<std::uint64_t, 20> kPow10 = [] {
    std::array<std::uint64_t, 20> t{};
    std::uint64_t p = 1;
    for (auto& x : t) {
        x = p;
        p *= 10;
    }
    return t;
}();
inline char* decimal(char* p, std::uint64_t v) {
    // digits - 1 from the bit width (1233/4096 ~ log10 2), then one more if v reaches the next power
    const int width = std::bit_width(v | 1);
    std::size_t n = static_cast<std::size_t>((width * 1233) >> 12);
    n += v >= kPow10[n];
    n += n == 0;
    char* e = p + n;
    while (v >= 10000) {
        const std::uint64_t q = v / 10000;
        const auto r = static_cast<std::uint32_t>(v - q * 10000);
        e -= 4;
        std::memcpy(e, &kDigitPairs[2 * (r / 100)], 2);
        std::memcpy(e + 2, &kDigitPairs[2 * (r % 100)], 2);
        v = q;
    }
    auto r = static_cast<std::uint32_t>(v);
    if (r >= 100) {
        e -= 2;
        std::memcpy(e, &kDigitPairs[2 * (r % 100)], 2);
        r /= 100;
    }
    if (r >= 10)
        std::memcpy(e - 2, &kDigitPairs[2 * r], 2);
    else
        e[-1] = static_cast<char>('0' + r);
    return p + n;
}

// One line is written in place: the caller's buffer grows ahead of each
// variable-length piece and is cut back to what was written at the end.
class Writer {
public:
    // Appends to out (which ends where the writing ends).
    explicit Writer(std::string& out) : out_(out), p_(out.data() + out.size()), end_(p_) {}
    // Writes from the start of scratch, whose size is only ever grown: size()
    // is then the length written.
    struct Scratch {};
    Writer(std::string& scratch, Scratch)
        : out_(scratch), p_(scratch.data()), end_(scratch.data() + scratch.size()), scratch_(true) {}
    ~Writer() {
        if (!scratch_) out_.resize(static_cast<std::size_t>(p_ - out_.data()));
    }
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;

    void lit(std::string_view s) {
        room(s.size());
        copy_short(p_, s.data(), s.size());
        p_ += s.size();
    }
    void ch(char c) {
        room(1);
        *p_++ = c;
    }
    template <typename T> void num(T v) {
        static_assert(std::is_integral_v<T>);
        room(24);
        if constexpr (std::is_signed_v<T>) {
            if (v < 0) {
                *p_++ = '-';
                p_ = decimal(p_, 0 - static_cast<std::uint64_t>(v));
                return;
            }
        }
        p_ = decimal(p_, static_cast<std::uint64_t>(v));
    }
    // Escaped bytes (see append_escaped); at most 6 bytes out per byte in.
    void esc(std::string_view s, bool json) {
        room(6 * s.size());
        unsigned pass = 1;    // printable ASCII passes; with 3, bytes >= 0x80 too
        bool checked = false; // whether the string is valid UTF-8 was asked (JSON, at its first byte >= 0x80)
        static constexpr char kHex[] = "0123456789abcdef";
        const auto* b = reinterpret_cast<const unsigned char*>(s.data());
        const std::size_t n = s.size();
        for (std::size_t i = 0; i < n;) {
            std::size_t j = i;
            if (pass == 1) j = plain_ascii(b, j, n);
            while (j < n && (kClass[b[j]] & pass))
                ++j;
            copy_short(p_, b + i, j - i); // runs of plain bytes at once
            p_ += j - i;
            if (j == n) break;
            const unsigned char c = b[j];
            if (c >= 0x80 && json && !checked) {
                checked = true;
                if (valid_utf8(s)) { // then every byte >= 0x80 passes
                    pass = 3;
                    i = j;
                    continue;
                }
            }
            i = j + 1;
            *p_++ = '\\';
            switch (c) {
            case '"': *p_++ = '"'; break;
            case '\\': *p_++ = '\\'; break;
            case '\n': *p_++ = 'n'; break;
            case '\t': *p_++ = 't'; break;
            case '\r': *p_++ = 'r'; break;
            default:
                if (json) {
                    std::memcpy(p_, "u00", 3);
                    p_ += 3;
                } else {
                    *p_++ = 'x';
                }
                *p_++ = kHex[c >> 4];
                *p_++ = kHex[c & 15];
            }
        }
    }
    void hex(std::string_view s) {
        room(2 * s.size());
        static constexpr char kHex[] = "0123456789abcdef";
        for (unsigned char c : s) {
            *p_++ = kHex[c >> 4];
            *p_++ = kHex[c & 15];
        }
    }
    // Left-justify what was written since `from` in a column of `width`, then a space.
    void column(std::size_t from, std::size_t width) {
        const std::size_t n = size() - from;
        const std::size_t fill = (n < width ? width - n : 0) + 1;
        room(fill);
        static constexpr char kSpaces[] = "                                "; // 32
        if (fill <= 32)
            copy_short(p_, kSpaces, fill);
        else
            std::memset(p_, ' ', fill);
        p_ += fill;
    }
    std::size_t size() const { return static_cast<std::size_t>(p_ - out_.data()); }

private:
    void room(std::size_t n) {
        if (static_cast<std::size_t>(end_ - p_) < n) [[unlikely]]
            grow(n);
    }
    [[gnu::noinline]] void grow(std::size_t n) {
        const std::size_t used = size();
        out_.resize(used + n + 512); // the string itself grows geometrically
        p_ = out_.data() + used;
        end_ = out_.data() + out_.size();
    }
    std::string& out_;
    char* p_;
    char* end_;
    bool scratch_ = false;
};

// strace omits mode and attr of mq_open when O_CREAT is not set: they are unused.
bool shown(const Call& c, std::size_t i) {
    const EventSpec& ev = catalog()[c.ev];
    if (ev.name != "mq_open" || (ev.args[i].name != "mode" && ev.args[i].name != "attr")) return true;
    return c.args[1].present && (c.args[1].raw & kOCreat);
}

void text_content(Writer& w, const ArgSpec& spec, const ArgValue& a) {
    if (a.content == Content::Str) {
        w.ch('"');
        w.esc(a.str, false);
        w.ch('"');
        if (a.lossy) w.lit("(lossy)"); // the kernel's event copy: may differ from the caller's bytes
        return;
    }
    const StructLayout& l = *spec.layout;
    w.ch('{');
    for (std::size_t m = 0; m < l.members.size(); ++m) {
        if (m) w.lit(", ");
        w.lit(l.members[m].name);
        w.ch('=');
        w.lit(render_scalar(l.members[m].decode, m < a.members.size() ? a.members[m] : 0));
    }
    w.ch('}');
}

// A value read after the call (user-late) may not be what the kernel saw: the
// argument is its address, and the late read follows it behind '~'.
void text_arg(Writer& w, const ArgSpec& spec, const ArgValue& a) {
    const bool value = decoded(spec, a);
    if (value && a.src != Source::UserLate) {
        text_content(w, spec, a);
        if (a.verify == Verify::Mismatch && a.caller) { // the kernel's copy shown; the caller's beside it
            w.lit(" /* TOCTOU: the caller had ");
            text_content(w, spec, *a.caller);
            w.lit(" */");
        }
        return;
    }
    if (!a.present) {
        w.ch('?');
    } else {
        const bool pointer = spec.decode == Decode::Name || spec.decode == Decode::Struct;
        w.lit(render_scalar(pointer ? Decode::Ptr : spec.decode, a.raw));
        if (a.content == Content::Unreadable) {
            w.lit(" <unreadable: ");
            w.esc(a.why, false);
            w.ch('>');
            return;
        }
    }
    if (value) {
        w.ch('~');
        text_content(w, spec, a);
    }
}

// Descriptor context after mqdes or msqid: 3</q>, 3<~/q> (what /proc showed
// after the call), 32768<key=0x1234>.
void text_queue(Writer& w, const QueueCtx& q) {
    w.ch('<');
    if (q.src == QueueSource::Msgget || q.src == QueueSource::Sysvipc) {
        w.lit("key=");
        w.lit(render_scalar(Decode::IpcKey, q.key));
    } else {
        if (q.src == QueueSource::ProcFd) w.ch('~');
        // As strace -y: '<' and '>' escaped too, so that the brackets delimit.
        std::string_view n = q.name();
        for (std::size_t b; (b = n.find_first_of("<>")) != std::string_view::npos; n.remove_prefix(b + 1)) {
            w.esc(n.substr(0, b), false);
            w.lit(n[b] == '<' ? "\\x3c" : "\\x3e");
        }
        w.esc(n, false);
    }
    w.ch('>');
}

// An output parameter's value: a number, or {member=value, ...}.
void text_out_value(Writer& w, const OutSpec& o, const ArgValue& a) {
    if (!o.layout) {
        w.lit(render_scalar(o.scalar.decode, a.members.empty() ? 0 : a.members[0]));
        return;
    }
    w.ch('{');
    for (std::size_t m = 0; m < o.layout->members.size(); ++m) {
        if (m) w.lit(", ");
        w.lit(o.layout->members[m].name);
        w.ch('=');
        w.lit(render_scalar(o.layout->members[m].decode, m < a.members.size() ? a.members[m] : 0));
    }
    w.ch('}');
}

// Output parameters after " => ": name=value as the call returned, name~value
// read after it (the process may have written it again since).
void text_outs(Writer& w, const Call& c) {
    const EventSpec& ev = catalog()[c.ev];
    bool first = true;
    for (std::size_t i = 0; i < ev.outs.size() && i < c.outs.size(); ++i) {
        const ArgValue& a = c.outs[i];
        if (a.content == Content::None) continue;
        w.lit(first ? " => " : ", ");
        first = false;
        w.lit(ev.outs[i].name);
        w.ch(a.src == Source::UserLate ? '~' : '=');
        if (a.content == Content::Unreadable) {
            w.lit("<unreadable: ");
            w.esc(a.why, false);
            w.ch('>');
        } else {
            text_out_value(w, ev.outs[i], a);
        }
    }
}

// --payload: body="..." (cut: "..."...), body~"..." read after the call.
void text_body(Writer& w, const Call& c) {
    w.lit("body");
    w.ch(c.body.src == Source::UserLate ? '~' : '=');
    if (c.body.content == Content::Unreadable) {
        w.lit("<unreadable: ");
        w.esc(c.body.why, false);
        w.ch('>');
        return;
    }
    w.ch('"');
    w.esc(c.body.str, false);
    w.ch('"');
    if (c.body.str.size() < body_length(c)) w.lit("...");
}

void text_args(Writer& w, const Call& c) {
    const EventSpec& ev = catalog()[c.ev];
    bool first = true;
    for (std::size_t i = 0; i < ev.args.size(); ++i) {
        if (!shown(c, i)) continue;
        if (!first) w.lit(", ");
        first = false;
        w.lit(ev.args[i].name);
        w.ch('=');
        text_arg(w, ev.args[i], c.args[i]);
        if (c.queue.src != QueueSource::None && ev.args[i].name == ev.queue.ref) text_queue(w, c.queue);
    }
    const bool body = c.body.content != Content::None;
    if (body && !ev.body.received()) { // what the caller sent: beside the arguments
        w.lit(", ");
        text_body(w, c);
    }
    if (!c.outs.empty()) text_outs(w, c);
    if (body && ev.body.received()) { // what the call received: with the outputs
        bool outs = false;
        for (const auto& o : c.outs)
            outs = outs || o.content != Content::None;
        w.lit(outs ? ", " : " => ");
        text_body(w, c);
    }
}

// --flows: " msg#17" on a send; on a receive " <- msg#17 from 4242/worker queued 35us",
// " <- msg#? ambiguous (3 candidates)" or " <- msg#? unknown (why)".
void text_flow(Writer& w, const Flow& f) {
    if (f.link == Link::Sent) {
        w.lit(" msg#");
        w.num(f.msg_id);
        return;
    }
    w.lit(f.copy ? " <- copy of msg#" : " <- msg#");
    if (f.link == Link::Ambiguous || f.link == Link::Unknown) {
        w.ch('?');
        if (f.link == Link::Ambiguous) {
            w.lit(" ambiguous (");
            w.num(f.candidates);
            w.lit(" candidates)");
        } else {
            w.lit(" unknown (");
            w.lit(f.why ? f.why : "");
            w.ch(')');
        }
        return;
    }
    w.num(f.msg_id);
    w.lit(" from ");
    f.from_pid < 0 ? w.ch('?') : w.num(f.from_pid);
    w.ch('/');
    f.from_comm.empty() ? w.ch('?') : w.esc(f.from_comm, false);
    w.lit(" queued ");
    if (f.queued_ns < 10000) {
        w.num(f.queued_ns);
        w.lit("ns");
    } else {
        w.num(f.queued_ns / 1000);
        w.lit("us");
    }
}

// "ENOENT", or "E123" for a number without a name (plain ASCII: no escaping).
void errno_text(Writer& w, int err) {
    const std::string_view n = known_errno_name(err);
    if (n.empty()) {
        w.ch('E');
        w.num(err);
    } else {
        w.lit(n);
    }
}

int cache_key(const FormatOptions& o) { return static_cast<int>(o.time) * 2 + o.utc; }
bool cached(std::int64_t sec, const FormatOptions& o) {
    return o.time_cache.sec == sec && o.time_cache.key == cache_key(o);
}

// The broken-down time of the second, computed once per second.
void fill_time_cache(std::int64_t sec, const FormatOptions& o) {
    auto& cache = o.time_cache;
    const auto t0 = static_cast<time_t>(sec);
    tm t{};
    if (o.utc)
        gmtime_r(&t0, &t);
    else
        localtime_r(&t0, &t);
    const char* fmt = o.time == TimeMode::Iso ? "%Y-%m-%dT%H:%M:%S." : "%H:%M:%S.";
    cache.len = std::strftime(cache.prefix, sizeof cache.prefix, fmt, &t);
    cache.zone_len = 0;
    if (o.time == TimeMode::Iso) {
        if (o.utc || t.tm_gmtoff == 0) {
            cache.zone[cache.zone_len++] = 'Z';
        } else {
            const long off = t.tm_gmtoff < 0 ? -t.tm_gmtoff : t.tm_gmtoff;
            cache.zone_len = static_cast<std::size_t>(
                std::snprintf(cache.zone, sizeof cache.zone, "%c%02ld:%02ld", t.tm_gmtoff < 0 ? '-' : '+',
                              off / 3600, off / 60 % 60));
        }
    }
    cache.sec = sec;
    cache.key = cache_key(o);
}

void digits(Writer& w, std::uint64_t v, int n) {
    char d[9];
    for (int i = n - 1; i >= 0; --i, v /= 10)
        d[i] = static_cast<char>('0' + v % 10);
    w.lit(std::string_view(d, static_cast<std::size_t>(n)));
}

// The time of a line: -T wall (HH:MM:SS.uuuuuu), relative (S.uuuuuu), iso.
void time_text(Writer& w, std::uint64_t ts, const FormatOptions& o) {
    if (o.time == TimeMode::Relative) {
        const std::uint64_t rel = ts > o.start_ts ? ts - o.start_ts : 0;
        w.num(rel / 1000000000);
        w.ch('.');
        digits(w, rel % 1000000000 / 1000, 6);
        return;
    }
    const std::int64_t ns = static_cast<std::int64_t>(ts) + o.clock_offset_ns;
    const std::int64_t sec = ns / 1000000000;
    if (!cached(sec, o)) fill_time_cache(sec, o);
    w.lit(std::string_view(o.time_cache.prefix, o.time_cache.len));
    digits(w, static_cast<std::uint64_t>(ns % 1000000000) / 1000, 6);
    w.lit(std::string_view(o.time_cache.zone, o.time_cache.zone_len));
}

// JSON's "time" (-T iso): nanoseconds, always with its zone.
void time_iso_ns(Writer& w, std::uint64_t ts, const FormatOptions& o) {
    const std::int64_t ns = static_cast<std::int64_t>(ts) + o.clock_offset_ns;
    const std::int64_t sec = ns / 1000000000;
    if (!cached(sec, o)) fill_time_cache(sec, o);
    w.ch('"');
    w.lit(std::string_view(o.time_cache.prefix, o.time_cache.len));
    digits(w, static_cast<std::uint64_t>(ns % 1000000000), 9);
    w.lit(std::string_view(o.time_cache.zone, o.time_cache.zone_len));
    w.ch('"');
}

// The extra JSON time members of -T relative / iso, after "time_ns".
void json_times(Writer& w, std::uint64_t ts, const FormatOptions& o) {
    if (o.time == TimeMode::Relative) {
        w.lit(",\"rel_ns\":");
        w.num(ts > o.start_ts ? ts - o.start_ts : 0);
    } else if (o.time == TimeMode::Iso) {
        w.lit(",\"time\":");
        time_iso_ns(w, ts, o);
    }
}

std::size_t time_width(const FormatOptions& o) { return o.time == TimeMode::Iso ? 32 : 15; }

void text_line(Writer& w, const Call& c, const FormatOptions& o) {
    const EventSpec& ev = catalog()[c.ev];
    std::size_t col = w.size();
    time_text(w, c.ts, o);
    w.column(col, time_width(o));
    col = w.size();
    c.pid < 0 ? w.ch('?') : w.num(c.pid);
    w.column(col, 7);
    col = w.size();
    w.num(c.tid);
    w.column(col, 7);
    col = w.size();
    c.comm.empty() ? w.ch('?') : w.esc(c.comm, false);
    w.column(col, 16);
    col = w.size();
    w.lit(ev.name);
    w.column(col, 15);
    col = w.size();
    if (!has_ret(c)) {
        w.ch('?');
    } else if (is_error(c.ret)) {
        w.lit("-1 ");
        errno_text(w, static_cast<int>(-c.ret));
    } else {
        w.num(c.ret);
    }
    w.column(col, 15);
    col = w.size();
    c.end == CallEnd::Returned ? w.num((c.ts_end - c.ts) / 1000) : w.ch('-');
    w.column(col, 8);
    if (c.end != CallEnd::EntryNotSeen) text_args(w, c);
    if (c.end != CallEnd::Returned) {
        w.lit(" <");
        w.lit(end_name(c.end));
        w.ch('>');
    }
    if (c.flow.link != Link::None) text_flow(w, c.flow);
}

[[gnu::always_inline]] inline void json_str(Writer& w, std::string_view s) {
    w.ch('"');
    w.esc(s, true);
    w.ch('"');
}

void json_tags(Writer& w, unsigned catalog_tags, Source src) {
    w.ch('[');
    bool first = true;
    auto add = [&](std::string_view t) {
        w.lit(first ? "\"" : ",\"");
        first = false;
        w.lit(t);
        w.ch('"');
    };
    if (src == Source::KernelCopy) add("K");
    if (src == Source::UserAtEntry || src == Source::UserLate || src == Source::UserStack) {
        add("U");
        add("TOCTOU");
    }
    if (catalog_tags & kTagOPT) add("OPT");
    w.ch(']');
}

constexpr std::size_t kSources = static_cast<std::size_t>(Source::UserAtReturn) + 1;

// The keys of every event's arguments and struct members, ,"name": with its
// comma, made once from the catalog (the line is written without assembling them).
struct ArgKeys {
    std::string key;                  // ,"name":
    std::vector<std::string> members; // ,"member": of its struct layout
    // ,"name":{"tags":[...],"source":"..." of arg_info, by source (the rest of the object follows).
    std::array<std::string, kSources> info;
};
const std::vector<std::vector<ArgKeys>>& arg_keys() {
    static const std::vector<std::vector<ArgKeys>> keys = [] {
        std::vector<std::vector<ArgKeys>> k;
        for (const EventSpec& ev : catalog()) {
            auto& args = k.emplace_back();
            for (const ArgSpec& a : ev.args) {
                ArgKeys& ak = args.emplace_back();
                ak.key = ",\"" + std::string(a.name) + "\":";
                if (a.layout)
                    for (const auto& m : a.layout->members)
                        ak.members.push_back(",\"" + std::string(m.name) + "\":");
                for (std::size_t src = 0; src < kSources; ++src) {
                    Writer w(ak.info[src]);
                    w.lit(ak.key);
                    w.lit("{\"tags\":");
                    json_tags(w, a.tags, static_cast<Source>(src));
                    w.lit(",\"source\":\"");
                    w.lit(source_name(static_cast<Source>(src)));
                    w.ch('"');
                }
            }
        }
        return k;
    }();
    return keys;
}

// A precomputed ,"key": (first: without its comma).
[[gnu::always_inline]] inline void json_key(Writer& w, const std::string& key, bool first) {
    w.lit(first ? std::string_view(key).substr(1) : std::string_view(key));
}

void json_content(Writer& w, const ArgSpec& spec, const ArgKeys& keys, const ArgValue& a) {
    if (a.content == Content::Str) {
        json_str(w, a.str);
        return;
    }
    w.ch('{');
    for (std::size_t m = 0; m < spec.layout->members.size(); ++m) {
        json_key(w, keys.members[m], m == 0);
        const std::int64_t v = m < a.members.size() ? a.members[m] : 0;
        const Member& mem = spec.layout->members[m];
        if (!mem.is_signed && mem.size == 8)
            w.num(static_cast<std::uint64_t>(v)); // unsigned long, a pointer: never negative
        else
            w.num(v);
    }
    w.ch('}');
}

void json_outs(Writer& w, const Call& c);
void json_body(Writer& w, const Call& c);

// "queue": which queue mqdes or msqid refers to ({"name"} or {"key"}) and how that is known.
void json_queue(Writer& w, const QueueCtx& q) {
    if (q.src == QueueSource::Msgget || q.src == QueueSource::Sysvipc) {
        w.lit(",\"queue\":{\"key\":");
        w.num(q.key);
    } else {
        w.lit(",\"queue\":{\"name\":");
        json_str(w, q.name());
        if (!valid_utf8(q.name())) {
            w.lit(",\"hex\":\"");
            w.hex(q.name());
            w.ch('"');
        }
    }
    w.lit(",\"source\":\"");
    w.lit(queue_source_name(q.src));
    w.lit("\"}");
}

// "pid":P,"tid":T,"comm":C of a call, or of a message's sender (null: not known).
void json_who(Writer& w, int pid, int tid, const std::string& comm) {
    w.lit("\"pid\":");
    pid < 0 ? w.lit("null") : w.num(pid);
    w.lit(",\"tid\":");
    w.num(tid);
    w.lit(",\"comm\":");
    comm.empty() ? w.lit("null") : json_str(w, comm);
}

// --flows: "msg_id" on a send; on a receive "msg_id" (null: not linked) and
// "link", with "queued_ns" and "from" when linked, "candidates" when
// ambiguous, "link_why" when unknown, "copy" for MSG_COPY.
void json_flow(Writer& w, const Flow& f) {
    w.lit(",\"msg_id\":");
    f.msg_id ? w.num(f.msg_id) : w.lit("null");
    if (f.link == Link::Sent) return;
    w.lit(",\"link\":\"");
    w.lit(link_name(f.link));
    w.ch('"');
    if (f.copy) w.lit(",\"copy\":true");
    if (f.link == Link::Ambiguous) {
        w.lit(",\"candidates\":");
        w.num(f.candidates);
    } else if (f.link == Link::Unknown) {
        w.lit(",\"link_why\":");
        json_str(w, f.why ? f.why : "");
    } else {
        w.lit(",\"queued_ns\":");
        w.num(f.queued_ns);
        w.lit(",\"from\":{");
        json_who(w, f.from_pid, f.from_tid, f.from_comm);
        w.ch('}');
    }
}

void json_line(Writer& w, const Call& c, const FormatOptions& o) {
    const EventSpec& ev = catalog()[c.ev];
    const std::vector<ArgKeys>& keys = arg_keys()[static_cast<std::size_t>(c.ev)];
    w.lit("{\"event\":\"");
    w.lit(ev.name);
    w.lit(kCallAfterName); // ","schema":N,"time_ns":
    w.num(static_cast<std::int64_t>(c.ts) + o.clock_offset_ns);
    json_times(w, c.ts, o);
    w.lit(",\"cpu\":");
    w.num(c.cpu);
    w.ch(',');
    FormatOptions::Who& who = o.last_who;
    if (who.json.empty() || who.pid != c.pid || who.tid != c.tid || who.comm != c.comm) {
        who.json.clear();
        Writer ww(who.json);
        json_who(ww, c.pid, c.tid, c.comm);
        who.pid = c.pid;
        who.tid = c.tid;
        who.comm = c.comm;
    }
    w.lit(who.json);
    const bool done = has_ret(c);
    w.lit(",\"ret\":");
    done ? w.num(c.ret) : w.lit("null");
    w.lit(",\"errno\":");
    if (done && is_error(c.ret)) {
        w.ch('"');
        errno_text(w, static_cast<int>(-c.ret));
        w.ch('"');
    } else
        w.lit("null");
    w.lit(",\"latency_ns\":");
    c.end == CallEnd::Returned ? w.num(c.ts_end - c.ts) : w.lit("null");
    w.lit(",\"end\":\"");
    w.lit(end_name(c.end));
    w.lit("\",\"args\":{");
    bool any_late = false;
    for (std::size_t i = 0; i < ev.args.size(); ++i) {
        const ArgSpec& spec = ev.args[i];
        const ArgValue& a = c.args[i];
        const bool value = decoded(spec, a);
        const bool pointer = spec.decode == Decode::Struct || spec.decode == Decode::Name;
        json_key(w, keys[i].key, i == 0);
        if (value && a.src != Source::UserLate)
            json_content(w, spec, keys[i], a);
        else if (!a.present || (pointer && a.raw == 0))
            w.lit("null"); // unknown, or a NULL pointer
        else if (spec.decode == Decode::UInt || spec.decode == Decode::Ptr || pointer)
            w.num(static_cast<std::uint64_t>(a.raw)); // an address is never null when it is not NULL
        else
            w.num(a.raw);
        any_late = any_late || (value && a.src == Source::UserLate);
    }
    w.ch('}');
    if (any_late) { // read after the call: beside the arguments, never as one
        w.lit(",\"late\":{");
        bool first = true;
        for (std::size_t i = 0; i < ev.args.size(); ++i) {
            const ArgValue& a = c.args[i];
            if (!decoded(ev.args[i], a) || a.src != Source::UserLate) continue;
            json_key(w, keys[i].key, first);
            first = false;
            json_content(w, ev.args[i], keys[i], a);
        }
        w.ch('}');
    }
    w.lit(",\"arg_info\":{");
    bool first = true;
    for (std::size_t i = 0; i < ev.args.size(); ++i) {
        const ArgValue& a = c.args[i];
        if (a.content == Content::None) continue;
        json_key(w, keys[i].info[static_cast<std::size_t>(a.src)], first);
        first = false;
        if (a.content == Content::Unreadable) {
            w.lit(",\"unreadable\":");
            json_str(w, a.why);
        }
        if (a.content == Content::Str && !valid_utf8(a.str)) {
            w.lit(",\"hex\":\"");
            w.hex(a.str);
            w.ch('"');
        }
        if (a.suspect_fault) w.lit(",\"suspect_fault\":true");
        if (a.lossy) w.lit(",\"lossy\":true");
        if (a.verify != Verify::None) {
            w.lit(a.verify == Verify::Verified ? ",\"toctou\":\"verified\"" : ",\"toctou\":\"mismatch\"");
            if (a.caller) {
                w.lit(",\"caller\":");
                json_content(w, ev.args[i], keys[i], *a.caller);
                if (a.caller->content == Content::Str && !valid_utf8(a.caller->str)) {
                    w.lit(",\"caller_hex\":\"");
                    w.hex(a.caller->str);
                    w.ch('"');
                }
            }
        }
        w.ch('}');
    }
    w.ch('}');
    if (c.queue.src != QueueSource::None) json_queue(w, c.queue);
    if (!c.outs.empty()) json_outs(w, c);
    if (c.body.content != Content::None) json_body(w, c);
    if (c.flow.link != Link::None) json_flow(w, c.flow);
    w.ch('}');
}

// "out" (as the call returned), "out_late" (read after it) and "out_info"
// (where each came from), for the outputs the call wrote.
void json_outs(Writer& w, const Call& c) {
    const EventSpec& ev = catalog()[c.ev];
    auto value = [&](const OutSpec& o, const ArgValue& a) {
        if (!o.layout) {
            const std::int64_t v = a.members.empty() ? 0 : a.members[0];
            o.scalar.is_signed ? w.num(v) : w.num(static_cast<std::uint64_t>(v));
            return;
        }
        w.ch('{');
        for (std::size_t m = 0; m < o.layout->members.size(); ++m) {
            const Member& mem = o.layout->members[m];
            if (m) w.ch(',');
            w.ch('"');
            w.lit(mem.name);
            w.lit("\":");
            const std::int64_t v = m < a.members.size() ? a.members[m] : 0;
            mem.is_signed ? w.num(v) : w.num(static_cast<std::uint64_t>(v));
        }
        w.ch('}');
    };
    for (const bool late : {false, true}) {
        bool first = true;
        for (std::size_t i = 0; i < ev.outs.size() && i < c.outs.size(); ++i) {
            const ArgValue& a = c.outs[i];
            if (a.content != Content::Struct || (a.src == Source::UserLate) != late) continue;
            w.lit(first ? (late ? ",\"out_late\":{\"" : ",\"out\":{\"") : ",\"");
            first = false;
            w.lit(ev.outs[i].name);
            w.lit("\":");
            value(ev.outs[i], a);
        }
        if (!first) w.ch('}');
    }
    bool first = true;
    for (std::size_t i = 0; i < ev.outs.size() && i < c.outs.size(); ++i) {
        const ArgValue& a = c.outs[i];
        if (a.content == Content::None) continue;
        w.lit(first ? ",\"out_info\":{\"" : ",\"");
        first = false;
        w.lit(ev.outs[i].name);
        w.lit("\":{\"source\":\"");
        w.lit(source_name(a.src));
        w.ch('"');
        if (a.content == Content::Unreadable) {
            w.lit(",\"unreadable\":");
            json_str(w, a.why);
        }
        w.ch('}');
    }
    if (!first) w.ch('}');
}

// --payload: "body" (at entry, or as the call returned) or "body_late", and
// "body_info": its source, whole length, whether it was cut, the exact bytes
// of one that is not valid UTF-8, or why it could not be read.
void json_body(Writer& w, const Call& c) {
    const ArgValue& b = c.body;
    if (b.content == Content::Str) {
        w.lit(b.src == Source::UserLate ? ",\"body_late\":" : ",\"body\":");
        json_str(w, b.str);
    }
    w.lit(",\"body_info\":{\"source\":\"");
    w.lit(source_name(b.src));
    w.lit("\",\"len\":");
    w.num(body_length(c));
    if (b.content == Content::Str) {
        w.lit(",\"cut\":");
        w.lit(b.str.size() < body_length(c) ? "true" : "false");
        if (!valid_utf8(b.str)) {
            w.lit(",\"hex\":\"");
            w.hex(b.str);
            w.ch('"');
        }
    } else {
        w.lit(",\"unreadable\":");
        json_str(w, b.why);
    }
    w.ch('}');
}

void lost_json(Writer& w, const LostNotice& l, const FormatOptions& o) {
    w.lit(kLostStart); // {"event":"lost","schema":N,"time_ns":
    w.num(static_cast<std::int64_t>(l.ts) + o.clock_offset_ns);
    json_times(w, l.ts, o);
    w.lit(",\"cpu\":");
    l.cpu < 0 ? w.lit("null") : w.num(l.cpu);
    w.lit(",\"count\":");
    l.count < 0 ? w.lit("null") : w.num(l.count);
    w.lit(",\"where\":");
    json_str(w, l.where);
    w.ch('}');
}

void lost_line(Writer& w, const LostNotice& l, const FormatOptions& o) {
    if (o.format == OutputFormat::Json) {
        lost_json(w, l, o);
        return;
    }
    std::size_t col = w.size();
    time_text(w, l.ts, o);
    w.column(col, time_width(o));
    w.lit("-       -       -                LOST            ");
    l.count < 0 ? w.lit("unknown") : w.num(l.count);
    w.lit(" events lost");
    if (l.cpu >= 0) {
        w.lit(" on cpu ");
        w.num(l.cpu);
    }
    w.lit(" (");
    w.esc(l.where, false);
    w.ch(')');
}

} // namespace

const char* queue_source_name(QueueSource s) {
    switch (s) {
    case QueueSource::MqOpen: return "mq_open";
    case QueueSource::ProcFd: return "proc-fd";
    case QueueSource::Msgget: return "msgget";
    case QueueSource::Sysvipc: return "sysvipc";
    case QueueSource::None: break;
    }
    return "none";
}

const char* link_name(Link l) {
    switch (l) {
    case Link::Sent: return "sent";
    case Link::Content: return "content";
    case Link::Order: return "order";
    case Link::Ambiguous: return "ambiguous";
    case Link::Unknown: return "unknown";
    case Link::None: break;
    }
    return "none";
}

bool decoded(const ArgSpec& spec, const ArgValue& a) {
    return a.content == Content::Str || (a.content == Content::Struct && spec.layout);
}

bool has_ret(const Call& c) { return c.end == CallEnd::Returned || c.end == CallEnd::EntryNotSeen; }

bool is_error(std::int64_t ret) { return ret < 0 && ret >= -4095; }

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

std::string text_header(const FormatOptions& o) {
    char b[180];
    std::snprintf(b, sizeof b, "%-*s %-7s %-7s %-16s %-15s %-15s %-8s %s", static_cast<int>(time_width(o)),
                  "TIME", "PID", "TID", "COMM", "EVENT", "RET", "LAT(us)", "ARGS");
    return b;
}

std::string render_args_text(const Call& c) {
    std::string out;
    Writer w(out);
    text_args(w, c);
    return out;
}

// -f perfetto: nanoseconds as microseconds ("ts", "dur"), to the nanosecond.
void perfetto_us(Writer& w, std::uint64_t ns) {
    w.num(ns / 1000);
    w.ch('.');
    digits(w, ns % 1000, 3);
}
// A time: since tracing started.
void perfetto_ts(Writer& w, std::uint64_t ts, const FormatOptions& o) {
    perfetto_us(w, ts > o.start_ts ? ts - o.start_ts : 0);
}

// -f perfetto: a call's events in the Trace Event Format, comma-separated: its
// thread's name the first time, a complete slice ("X", the call's JSON line as
// its args), a flow from a send ("s") to the receive that took its message
// ("f"), the queue's depth after it ("C", in process 0, which holds the
// queues' counters and the lost records). A lost record: an instant on the
// track of its CPU ("CPU N (lost records)"), global when it has none.
void perfetto_events(Writer& w, const Item& it, const FormatOptions& o) {
    if (o.perfetto_named.insert(-1).second) {
        w.lit("{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":0,\"tid\":0,"
              "\"args\":{\"name\":\"message queues (mqtrace)\"}},");
    }
    if (!it.is_call) { // on the track of its CPU (thread cpu + 1 of process 0), else global
        const int cpu = it.lost.cpu;
        if (cpu >= 0 && o.perfetto_named.insert(-2 - cpu).second) {
            w.lit("{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":0,\"tid\":");
            w.num(cpu + 1);
            w.lit(",\"args\":{\"name\":\"CPU ");
            w.num(cpu);
            w.lit(" (lost records)\"}},");
        }
        if (cpu >= 0) {
            w.lit("{\"ph\":\"i\",\"s\":\"t\",\"name\":\"lost\",\"pid\":0,\"tid\":");
            w.num(cpu + 1);
            w.lit(",\"ts\":");
        } else {
            w.lit("{\"ph\":\"i\",\"s\":\"g\",\"name\":\"lost\",\"pid\":0,\"tid\":0,\"ts\":");
        }
        perfetto_ts(w, it.lost.ts, o);
        w.lit(",\"args\":");
        lost_json(w, it.lost, o);
        w.ch('}');
        return;
    }
    const Call& c = it.call;
    const EventSpec& ev = catalog()[static_cast<std::size_t>(c.ev)];
    const int pid = c.pid < 0 ? c.tid : c.pid;
    auto where = [&] {
        w.lit(",\"pid\":");
        w.num(pid);
        w.lit(",\"tid\":");
        w.num(c.tid);
    };
    if (o.perfetto_named.insert(c.tid).second) {
        w.lit("{\"ph\":\"M\",\"name\":\"thread_name\"");
        where();
        w.lit(",\"args\":{\"name\":");
        json_str(w, c.comm.empty() ? std::string_view("?") : std::string_view(c.comm));
        w.lit("}},");
    }
    const bool timed = c.end == CallEnd::Returned && c.ts_end >= c.ts;
    w.lit("{\"ph\":\"X\",\"cat\":\"");
    w.lit(ev.family == Family::Posix ? "posix" : "sysv");
    w.lit("\",\"name\":\"");
    w.lit(ev.name);
    w.ch('"');
    where();
    w.lit(",\"ts\":");
    perfetto_ts(w, c.ts, o);
    w.lit(",\"dur\":");
    perfetto_us(w, timed ? c.ts_end - c.ts : 0);
    w.lit(",\"args\":");
    json_line(w, c, o);
    w.ch('}');
    const Flow& f = c.flow;
    const bool sent = f.link == Link::Sent,
               taken = (f.link == Link::Content || f.link == Link::Order) && !f.copy;
    if ((sent || taken) && f.msg_id) { // bound to the slice around its point: the call's middle
        w.lit(sent ? ",{\"ph\":\"s\"" : ",{\"ph\":\"f\",\"bp\":\"e\"");
        w.lit(",\"cat\":\"flow\",\"name\":\"message\",\"id\":");
        w.num(f.msg_id);
        where();
        w.lit(",\"ts\":");
        perfetto_ts(w, timed ? c.ts + (c.ts_end - c.ts) / 2 : c.ts, o);
        w.ch('}');
    }
    if (f.depth >= 0 && c.queue.id) {
        w.lit(",{\"ph\":\"C\",\"name\":");
        std::string name = "depth ";
        if (ev.family == Family::Posix)
            name +=
                c.queue.name().empty() ? "queue " + std::to_string(c.queue.id) : std::string(c.queue.name());
        else
            name +=
                "msqid " + std::to_string(c.args[static_cast<std::size_t>(arg_index(ev, ev.queue.ref))].raw);
        json_str(w, name);
        w.lit(",\"pid\":0,\"tid\":0,\"ts\":");
        perfetto_ts(w, timed ? c.ts_end : c.ts, o);
        w.lit(",\"args\":{\"depth\":");
        w.num(f.depth);
        w.lit("}}");
    }
}

void append_item(const Item& it, const FormatOptions& o, std::string& out) {
    std::size_t n = 0;
    {
        Writer w(o.line_scratch, Writer::Scratch{});
        if (o.format == OutputFormat::Perfetto)
            perfetto_events(w, it, o);
        else if (!it.is_call)
            lost_line(w, it.lost, o);
        else if (o.format == OutputFormat::Json)
            json_line(w, it.call, o);
        else
            text_line(w, it.call, o);
        n = w.size();
    }
    out.append(o.line_scratch.data(), n);
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
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) { // ASCII, eight bytes at a time
        std::uint64_t w;
        std::memcpy(&w, p + i, 8);
        if (w & 0x8080808080808080ull) break;
    }
    while (i < n) {
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
    Writer w(out);
    w.esc(s, json);
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
