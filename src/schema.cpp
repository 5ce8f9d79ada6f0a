// The JSON Schema of the -f json lines, generated from the catalog. See
// include/mqtrace/schema.hpp. What each line holds is written by
// src/format.cpp (calls, lost records) and src/summary.cpp (the summary);
// the unit tests format a line of every kind and check it against the sets
// and ranges used here, and tests/schema-test validates real output.
#include "mqtrace/schema.hpp"

#include "mqtrace/catalog.hpp"
#include "mqtrace/format.hpp"
#include "mqtrace/plan.hpp"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace mqtrace {
namespace {

// ---- a small JSON value, members in the order given ----------------------------

struct JMember;

struct J {
    enum class Kind { Null, Bool, Number, String, Array, Object };
    Kind kind = Kind::Null;
    std::string text; // Number: the literal; String: the characters; Bool: true or false
    std::vector<J> items;
    std::vector<JMember> members; // (not std::pair: a pair of an incomplete J is refused by clang's checks)

    // Sets an object member (appended, or replaced where it is).
    J& set(std::string_view key, J v);
};

struct JMember {
    std::string first;
    J second;
};

J& J::set(std::string_view key, J v) {
    for (auto& m : members)
        if (m.first == key) {
            m.second = std::move(v);
            return *this;
        }
    members.push_back(JMember{std::string(key), std::move(v)});
    return *this;
}

J str(std::string_view s) {
    J v;
    v.kind = J::Kind::String;
    v.text = s;
    return v;
}
J boolean(bool b) {
    J v;
    v.kind = J::Kind::Bool;
    v.text = b ? "true" : "false";
    return v;
}
template <typename T> J num(T n) {
    J v;
    v.kind = J::Kind::Number;
    v.text = std::to_string(n);
    return v;
}
J arr(std::vector<J> items) {
    J v;
    v.kind = J::Kind::Array;
    v.items = std::move(items);
    return v;
}
J strs(const std::vector<std::string_view>& items) {
    std::vector<J> v;
    for (auto s : items)
        v.push_back(str(s));
    return arr(std::move(v));
}
J obj(std::initializer_list<std::pair<std::string_view, J>> members = {}) {
    J v;
    v.kind = J::Kind::Object;
    for (const auto& [k, m] : members)
        v.set(k, m);
    return v;
}

void quote(std::string& out, std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += '"';
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20) {
            out += "\\u00";
            out += kHex[c >> 4];
            out += kHex[c & 15];
        } else {
            out += ch;
        }
    }
    out += '"';
}

// The value on one line: {"a": 1, "b": [2, 3]}.
void inline_dump(const J& v, std::string& out) {
    switch (v.kind) {
    case J::Kind::Null: out += "null"; return;
    case J::Kind::Bool:
    case J::Kind::Number: out += v.text; return;
    case J::Kind::String: quote(out, v.text); return;
    case J::Kind::Array:
        out += '[';
        for (std::size_t i = 0; i < v.items.size(); ++i) {
            if (i) out += ", ";
            inline_dump(v.items[i], out);
        }
        out += ']';
        return;
    case J::Kind::Object:
        out += '{';
        for (std::size_t i = 0; i < v.members.size(); ++i) {
            if (i) out += ", ";
            quote(out, v.members[i].first);
            out += ": ";
            inline_dump(v.members[i].second, out);
        }
        out += '}';
        return;
    }
}

constexpr std::size_t kWidth = 110;

// Two spaces per level; what fits in the line from `column` stays on it.
void dump(const J& v, std::string& out, std::size_t indent, std::size_t column) {
    std::string one;
    inline_dump(v, one);
    const bool nested = v.kind == J::Kind::Array || v.kind == J::Kind::Object;
    if (!nested || column + one.size() <= kWidth || (v.kind == J::Kind::Array && v.items.empty()) ||
        (v.kind == J::Kind::Object && v.members.empty())) {
        out += one;
        return;
    }
    const bool array = v.kind == J::Kind::Array;
    const std::size_t n = array ? v.items.size() : v.members.size();
    out += array ? "[\n" : "{\n";
    for (std::size_t i = 0; i < n; ++i) {
        out.append(indent + 2, ' ');
        std::size_t col = indent + 2;
        if (!array) {
            const std::size_t before = out.size();
            quote(out, v.members[i].first);
            out += ": ";
            col += out.size() - before;
        }
        const std::size_t tail = i + 1 < n ? 1 : 0; // the comma
        dump(array ? v.items[i] : v.members[i].second, out, indent + 2, col + tail);
        out += i + 1 < n ? ",\n" : "\n";
    }
    out.append(indent, ' ');
    out += array ? ']' : '}';
}

// ---- pieces of the schema -----------------------------------------------------------

constexpr auto kI64Min = std::numeric_limits<std::int64_t>::min();
constexpr auto kI64Max = std::numeric_limits<std::int64_t>::max();
constexpr auto kU64Max = std::numeric_limits<std::uint64_t>::max();

J def_ref(std::string_view def) { return obj({{"$ref", str("#/$defs/" + std::string(def))}}); }

template <typename Lo, typename Hi> J integer(Lo lo, Hi hi, std::string_view description = {}) {
    J v = obj();
    if (!description.empty()) v.set("description", str(description));
    v.set("type", str("integer"));
    v.set("minimum", num(lo));
    v.set("maximum", num(hi));
    return v;
}

// The same, or null.
J nullable(J v) {
    for (auto& [key, type] : v.members)
        if (key == "type" && type.kind == J::Kind::String) {
            type = strs({type.text, "null"});
            return v;
        }
    return obj({{"anyOf", arr({std::move(v), obj({{"type", str("null")}})})}});
}

J described(std::string_view description, J v) {
    v.members.insert(v.members.begin(), JMember{"description", str(description)});
    return v;
}

// How a call ended (src/format.cpp, end_name): a closed set.
const std::vector<std::string_view> kEnds{"returned", "thread-exited", "no-return-seen", "trace-ended",
                                          "entry-not-seen"};

constexpr Source kSources[]{Source::Register, Source::KernelCopy, Source::UserAtEntry, Source::UserLate,
                            Source::UserStack};
// Where an output parameter came from.
constexpr Source kOutSources[]{Source::UserAtReturn, Source::UserLate};

// The tags of a value by where it came from, as format.cpp writes them: K
// for the kernel's copy, U and TOCTOU for user memory, OPT from the catalog.
std::vector<std::string_view> tags_of(Source s, bool opt) {
    std::vector<std::string_view> t;
    if (s == Source::KernelCopy) t.push_back("K");
    if (s == Source::UserAtEntry || s == Source::UserLate || s == Source::UserStack) {
        t.push_back("U");
        t.push_back("TOCTOU");
    }
    if (opt) t.push_back("OPT");
    return t;
}

std::string def_name(std::string_view ctype) { // "struct mq_attr" -> "struct_mq_attr"
    std::string s(ctype);
    for (char& c : s)
        if (c == ' ') c = '_';
    return s;
}

// A struct member's value: its bytes at its offset, sign-extended when
// signed, as an unsigned number when not (8-byte ones too).
J member_value(const Member& m) {
    const std::string where = std::to_string(m.size) + " bytes at offset " + std::to_string(m.offset) +
                              (m.is_signed ? ", signed" : "");
    if (m.size >= 8)
        return m.is_signed ? integer(kI64Min, kI64Max, where) : integer(std::uint64_t{0}, kU64Max, where);
    const int bits = m.size * 8;
    if (m.is_signed)
        return integer(-(std::int64_t{1} << (bits - 1)), (std::int64_t{1} << (bits - 1)) - 1, where);
    return integer(0, (std::int64_t{1} << bits) - 1, where);
}

J struct_schema(const StructLayout& l) {
    J props = obj();
    std::vector<std::string_view> names;
    for (const Member& m : l.members) {
        props.set(m.name, member_value(m));
        names.push_back(m.name);
    }
    return obj({{"description", str(std::string(l.ctype) + ", decoded member by member (all of them)")},
                {"type", str("object")},
                {"required", strs(names)},
                {"additionalProperties", boolean(false)},
                {"properties", props}});
}

bool has_content(const ArgSpec& a) {
    return a.decode == Decode::Name || (a.decode == Decode::Struct && a.layout);
}

// A memory-derived argument's content: a string, or its struct's members.
J content(const ArgSpec& a) {
    if (a.decode == Decode::Name) return obj({{"type", str("string")}});
    return def_ref(def_name(a.layout->ctype));
}

// An argument in "args": its content, its address (read late or unreadable),
// null (NULL pointer or unknown); numbers narrowed to their C type
// (ArgSpec::ktype), unsigned ones (UInt, Ptr) shown unsigned.
J arg_value(const ArgSpec& a) {
    const std::string d = std::string(a.ctype) + ": " + std::string(a.doc);
    if (a.decode == Decode::Name || a.decode == Decode::Struct) {
        std::vector<J> any;
        if (has_content(a)) any.push_back(content(a));
        any.push_back(def_ref("address"));
        any.push_back(obj({{"type", str("null")}}));
        return obj({{"description", str(d)}, {"anyOf", arr(std::move(any))}});
    }
    const bool shown_unsigned = a.decode == Decode::UInt || a.decode == Decode::Ptr;
    J v;
    if (a.ktype == "u16")
        v = integer(0, 65535);
    else if (a.ktype == "u32")
        v = integer(0, 4294967295LL);
    else if (shown_unsigned)
        v = integer(0, kU64Max);
    else if (a.ktype == "s32")
        v = integer(std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max());
    else
        v = integer(kI64Min, kI64Max);
    return described(d, nullable(std::move(v)));
}

J arg_info(const EventSpec& ev, const ArgSpec& a) {
    J props = obj(
        {{"tags", obj({{"type", str("array")}, {"items", def_ref("tag")}, {"uniqueItems", boolean(true)}})},
         {"source", def_ref("source")},
         {"unreadable", obj({{"type", str("string")}, {"description", str("why it could not be read")}})}});
    if (a.decode == Decode::Name) {
        props.set("hex", obj({{"type", str("string")},
                              {"pattern", str("^([0-9a-f]{2})+$")},
                              {"description", str("the exact bytes of a string that is not valid UTF-8")}}));
        props.set("suspect_fault", obj({{"const", boolean(true)}}));
        props.set("lossy", obj({{"const", boolean(true)}}));
    }
    if (kernel_copied(ev, a.name)) {
        props.set("toctou",
                  obj({{"enum", strs({"verified", "mismatch"})},
                       {"description",
                        str("the kernel's copy (source kernel-copy) against what the caller's memory "
                            "held at entry: the same, or changed in between")}}));
        J caller = content(a);
        caller.set("description", str("toctou mismatch: what the caller's memory held at entry"));
        props.set("caller", std::move(caller));
        if (a.decode == Decode::Name)
            props.set("caller_hex",
                      obj({{"type", str("string")},
                           {"pattern", str("^([0-9a-f]{2})+$")},
                           {"description", str("caller's exact bytes, when not valid UTF-8")}}));
    }
    return obj({{"$ref",
                 str(std::string("#/$defs/") + (a.tags & kTagOPT ? "tags_by_source_opt" : "tags_by_source"))},
                {"type", str("object")},
                {"required", strs({"tags", "source"})},
                {"additionalProperties", boolean(false)},
                {"properties", props}});
}

J tags_by_source(bool opt) {
    std::vector<J> any;
    for (Source s : kSources)
        any.push_back(obj({{"properties", obj({{"source", obj({{"const", str(source_name(s))}})},
                                               {"tags", obj({{"const", strs(tags_of(s, opt))}})}})}}));
    return obj({{"description", str(std::string("the tags go with the source") +
                                    (opt ? ", and OPT with a pointer that may be NULL" : ""))},
                {"anyOf", arr(std::move(any))}});
}

// The members every call and lost record has before its own: event, schema,
// the times.
void line_start(J& props, std::string_view event) {
    props.set("event", obj({{"const", str(event)}}));
    props.set("schema", obj({{"const", num(kSchemaVersion)}}));
    props.set("time_ns", def_ref("time_ns"));
    props.set("rel_ns", def_ref("rel_ns"));
    props.set("time", def_ref("time"));
}

J call_schema(const EventSpec& ev) {
    J args = obj(), late = obj(), info = obj();
    std::vector<std::string_view> names;
    for (const ArgSpec& a : ev.args) {
        names.push_back(a.name);
        args.set(a.name, arg_value(a));
        if (has_content(a)) {
            late.set(a.name, content(a));
            info.set(a.name, arg_info(ev, a));
        }
    }
    J props = obj();
    line_start(props, ev.name);
    for (const char* m : {"cpu", "pid", "tid", "comm", "ret", "errno", "latency_ns", "end"})
        props.set(m, def_ref(m));
    props.set("args", obj({{"description", str("every argument, by name")},
                           {"type", str("object")},
                           {"required", strs(names)},
                           {"additionalProperties", boolean(false)},
                           {"properties", args}}));
    if (!late.members.empty())
        props.set("late", obj({{"description", str("values read after the call (user-late): beside the "
                                                   "arguments, never as them")},
                               {"type", str("object")},
                               {"minProperties", num(1)},
                               {"additionalProperties", boolean(false)},
                               {"properties", late}}));
    props.set("arg_info", obj({{"description", str("one entry per argument read from memory")},
                               {"type", str("object")},
                               {"additionalProperties", boolean(false)},
                               {"properties", info}}));
    if (!ev.outs.empty()) {
        J out = obj(), out_info = obj();
        std::vector<std::string_view> sources;
        for (Source s : kOutSources)
            sources.push_back(source_name(s));
        for (const OutSpec& o : ev.outs) {
            const std::string d =
                std::string(o.ctype) + " at " + std::string(o.arg) + ": " + std::string(o.doc);
            out.set(o.name, described(d, o.layout ? struct_schema(*o.layout) : member_value(o.scalar)));
            out_info.set(
                o.name,
                obj({{"type", str("object")},
                     {"required", strs({"source"})},
                     {"additionalProperties", boolean(false)},
                     {"properties",
                      obj({{"source", obj({{"enum", strs(sources)}})},
                           {"unreadable", obj({{"type", str("string")},
                                               {"description", str("why it could not be read")}})}})}}));
        }
        auto outs = [&](std::string_view d) {
            return obj({{"description", str(d)},
                        {"type", str("object")},
                        {"minProperties", num(1)},
                        {"additionalProperties", boolean(false)},
                        {"properties", out}});
        };
        props.set("out",
                  outs("output parameters as the call returned (user-at-return): what the kernel wrote; "
                       "only those the call wrote (it succeeded; msgctl: the commands that write them)"));
        props.set("out_late",
                  outs("output parameters read after the call returned (user-late): the process may "
                       "have written them again since"));
        props.set("out_info", obj({{"description", str("one entry per output parameter the call wrote")},
                                   {"type", str("object")},
                                   {"minProperties", num(1)},
                                   {"additionalProperties", boolean(false)},
                                   {"properties", out_info}}));
    }
    if (!ev.body.ptr.empty()) {
        const std::string what =
            ev.body.received() ? "the body received (the first of ret bytes)"
                               : "the body sent (the first of " + std::string(ev.body.len_arg) + " bytes)";
        props.set("body",
                  obj({{"description", str("--payload: " + what + ", at entry or as the call returned")},
                       {"type", str("string")}}));
        props.set("body_late", obj({{"description", str("--payload: " + what + ", read after the call")},
                                    {"type", str("string")}}));
        std::vector<std::string_view> sources;
        for (Source s : {Source::UserStack, Source::UserAtReturn, Source::UserLate})
            sources.push_back(source_name(s));
        props.set("body_info",
                  obj({{"description",
                        str("--payload: where the body came from, its whole length, whether it was cut")},
                       {"type", str("object")},
                       {"required", strs({"source", "len"})},
                       {"additionalProperties", boolean(false)},
                       {"properties",
                        obj({{"source", obj({{"enum", strs(sources)}})},
                             {"len", integer(std::uint64_t{0}, kU64Max, "bytes the call sent or received")},
                             {"cut", obj({{"type", str("boolean")}})},
                             {"hex", obj({{"type", str("string")},
                                          {"pattern", str("^([0-9a-f]{2})+$")},
                                          {"description",
                                           str("the exact bytes of a body that is not valid UTF-8")}})},
                             {"unreadable", obj({{"type", str("string")}})}})}}));
    }
    if (!ev.queue.ref.empty()) {
        const bool posix = ev.family == Family::Posix;
        std::vector<std::string_view> sources;
        for (QueueSource s : posix ? std::vector{QueueSource::MqOpen, QueueSource::ProcFd}
                                   : std::vector{QueueSource::Msgget, QueueSource::Sysvipc})
            sources.push_back(queue_source_name(s));
        J qp = obj({{"source", obj({{"enum", strs(sources)}})}});
        if (posix) {
            qp.set("name", obj({{"type", str("string")},
                                {"description", str("its path in the mqueue file system, \"/NAME\"")}}));
            qp.set("hex", obj({{"type", str("string")},
                               {"pattern", str("^([0-9a-f]{2})+$")},
                               {"description", str("the exact bytes of a name that is not valid UTF-8")}}));
        } else {
            qp.set("key", integer(std::int64_t{INT32_MIN}, INT32_MAX, "its key (0: IPC_PRIVATE)"));
        }
        props.set("queue",
                  obj({{"description", str("descriptor context: the queue " + std::string(ev.queue.ref) +
                                           " refers to, and how that is known (absent: not known)")},
                       {"type", str("object")},
                       {"required", strs({posix ? "name" : "key", "source"})},
                       {"additionalProperties", boolean(false)},
                       {"properties", qp}}));
    }
    if (!ev.body.ptr.empty()) { // --flows
        const bool rx = ev.body.received();
        props.set("msg_id", described(rx ? "--flows: the message it took (null: not linked, see link)"
                                         : "--flows: its message, unique within the run (a successful send)",
                                      rx ? nullable(def_ref("count")) : def_ref("count")));
        if (rx) {
            props.set("link",
                      obj({{"description", str("--flows: how msg_id is known (content: bodies compared too; "
                                               "order: by the order of the calls), or why it is null")},
                           {"enum", strs({"content", "order", "ambiguous", "unknown"})}}));
            props.set("candidates",
                      described("ambiguous: how many messages it may have taken", def_ref("count")));
            props.set("link_why", obj({{"type", str("string")},
                                       {"description", str("unknown: why no link can be made")}}));
            props.set("queued_ns",
                      described("linked: its return minus the send's return, 0 if the receive returned first",
                                def_ref("count")));
            props.set("from",
                      obj({{"description", str("linked: the thread that sent the message")},
                           {"type", str("object")},
                           {"required", strs({"pid", "tid", "comm"})},
                           {"additionalProperties", boolean(false)},
                           {"properties", obj({{"pid", nullable(integer(0, kI64Max, "process"))},
                                               {"tid", integer(0, kI64Max, "thread")},
                                               {"comm", nullable(obj({{"type", str("string")}}))}})}}));
            if (ev.family == Family::SysV)
                props.set("copy",
                          obj({{"description", str("MSG_COPY: a copy; the message stays in the queue")},
                               {"const", boolean(true)}}));
        }
    }
    return obj({{"description", str("a call of " + std::string(ev.name) + ": " + std::string(ev.prototype))},
                {"type", str("object")},
                {"required", strs({"event", "schema", "time_ns", "cpu", "pid", "tid", "comm", "ret", "errno",
                                   "latency_ns", "end", "args", "arg_info"})},
                {"additionalProperties", boolean(false)},
                {"properties", props}});
}

J lost_schema() {
    J props = obj();
    line_start(props, "lost");
    props.set("cpu", nullable(integer(0, kI64Max, "the CPU whose buffer lost them, null if not one CPU's")));
    props.set("count", described("how many, null if unknown", nullable(def_ref("count"))));
    props.set("where", obj({{"type", str("string")}, {"description", str("what lost them (an open set)")}}));
    return obj({{"description", str("events the kernel lost: count null when unknown, cpu null when not "
                                    "tied to one CPU")},
                {"type", str("object")},
                {"required", strs({"event", "schema", "time_ns", "cpu", "count", "where"})},
                {"additionalProperties", boolean(false)},
                {"properties", props}});
}

// {min, median, p99, max, timed} of a set of times in ns.
J quantiles(std::string_view timed) {
    return obj({{"type", str("object")},
                {"required", strs({"min", "median", "p99", "max", "timed"})},
                {"additionalProperties", boolean(false)},
                {"properties", obj({{"min", def_ref("count")},
                                    {"median", def_ref("count")},
                                    {"p99", def_ref("count")},
                                    {"max", def_ref("count")},
                                    {"timed", integer(1, kU64Max, timed)}})}});
}

J summary_stats() {
    J latency = quantiles("the returned calls the latencies are of");
    return obj({{"type", str("object")},
                {"required", strs({"calls", "errors", "errnos", "latency_ns"})},
                {"additionalProperties", boolean(false)},
                {"properties", obj({{"calls", def_ref("count")},
                                    {"errors", def_ref("count")},
                                    {"errnos", obj({{"type", str("object")},
                                                    {"propertyNames", def_ref("errno_name")},
                                                    {"additionalProperties", integer(1, kU64Max)}})},
                                    {"latency_ns", nullable(std::move(latency))},
                                    {"toctou_mismatches",
                                     integer(1, kU64Max,
                                             "calls an argument of which the kernel's copy showed changed "
                                             "since entry (kprobe backend); absent: none")}})}});
}

J summary_schema() {
    J process = obj({{"type", str("object")},
                     {"required", strs({"pid", "comm", "events"})},
                     {"additionalProperties", boolean(false)},
                     {"properties", obj({{"pid", def_ref("pid")},
                                         {"comm", obj({{"type", str("string")}})},
                                         {"events", def_ref("summary_events")}})}});
    auto peers = [] {
        return obj({{"type", str("array")},
                    {"items", obj({{"type", str("object")},
                                   {"required", strs({"pid", "comm", "messages"})},
                                   {"additionalProperties", boolean(false)},
                                   {"properties", obj({{"pid", def_ref("pid")},
                                                       {"comm", obj({{"type", str("string")}})},
                                                       {"messages", integer(1, kU64Max)}})}})}});
    };
    J queue = obj(
        {{"type", str("object")},
         {"required", strs({"kind", "calls", "errors", "errnos", "sent", "received", "bytes_sent",
                            "bytes_received", "senders", "other_senders", "receivers", "other_receivers"})},
         {"additionalProperties", boolean(false)},
         {"properties",
          obj({{"kind", obj({{"enum", strs({"posix", "sysv"})}})},
               {"name", obj({{"type", str("string")},
                             {"description", str("posix: its path in the mqueue file system")}})},
               {"msqid", integer(0, INT32_MAX, "sysv: its identifier")},
               {"key",
                nullable(integer(std::int64_t{INT32_MIN}, INT32_MAX, "sysv: its key, null if not known"))},
               {"calls", def_ref("count")},
               {"errors", def_ref("count")},
               {"errnos", obj({{"type", str("object")},
                               {"propertyNames", def_ref("errno_name")},
                               {"additionalProperties", integer(1, kU64Max)}})},
               {"sent", def_ref("count")},
               {"received", def_ref("count")},
               {"bytes_sent", def_ref("count")},
               {"bytes_received", def_ref("count")},
               {"senders", peers()},
               {"other_senders", def_ref("count")},
               {"receivers", peers()},
               {"other_receivers", def_ref("count")},
               {"depth_start",
                nullable(obj({{"description",
                               str("how full it was just before tracing began (from the mqueue file system, "
                                   "/proc/sysvipc/msg; live runs, queues of mqtrace's IPC namespace); null: "
                                   "not known (created since, another namespace, -r)")},
                              {"type", str("object")},
                              {"required", strs({"messages", "bytes"})},
                              {"additionalProperties", boolean(false)},
                              {"properties", obj({{"messages", nullable(integer(0, kI64Max, "messages"))},
                                                  {"bytes", nullable(integer(0, kI64Max, "bytes"))}})}}))},
               {"links",
                obj({{"description", str("--flows: its receives linked to their send, ambiguous, unknown")},
                     {"type", str("object")},
                     {"required", strs({"linked", "ambiguous", "unknown"})},
                     {"additionalProperties", boolean(false)},
                     {"properties", obj({{"linked", def_ref("count")},
                                         {"ambiguous", def_ref("count")},
                                         {"unknown", def_ref("count")}})}})},
               {"queued_ns", nullable(described("--flows: the linked messages' time in queue (null: none)",
                                                quantiles("linked receives")))},
               {"depth_max", nullable(integer(0, kI64Max,
                                              "--flows: the most messages it held, as the model had them "
                                              "(null: never followed)"))}})}});
    J props = obj({{"event", obj({{"const", str("summary")}})},
                   {"schema", obj({{"const", num(kSchemaVersion)}})},
                   {"queues", obj({{"description", str("per queue: the calls that named it by mqdes (its "
                                                       "descriptor context known) or msqid")},
                                   {"type", str("array")},
                                   {"items", std::move(queue)}})},
                   {"queue_calls_unknown",
                    described("calls on a queue that is not known (or past 4096 queues)", def_ref("count"))},
                   {"events", def_ref("summary_events")},
                   {"lost", def_ref("count")},
                   {"lost_unknown", def_ref("count")},
                   {"processes", obj({{"description", str("with --per-process")},
                                      {"type", str("array")},
                                      {"items", std::move(process)}})}});
    return obj({{"description", str("the summary of -c and -C, last")},
                {"type", str("object")},
                {"required", strs({"event", "schema", "events", "lost", "lost_unknown", "queues",
                                   "queue_calls_unknown"})},
                {"additionalProperties", boolean(false)},
                {"properties", props}});
}

} // namespace

std::string json_schema() {
    std::vector<std::string_view> events;
    std::vector<J> dispatch;
    J defs = obj();
    J summary_events = obj();
    auto by_event = [&](std::string_view event, const std::string& def) {
        events.push_back(event);
        dispatch.push_back(obj({{"if", obj({{"properties", obj({{"event", obj({{"const", str(event)}})}})}})},
                                {"then", def_ref(def)}}));
    };
    for (const EventSpec& ev : catalog()) {
        const std::string def = "call_" + std::string(ev.name);
        by_event(ev.name, def);
        defs.set(def, call_schema(ev));
        summary_events.set(ev.name, def_ref("summary_stats"));
    }
    by_event("lost", "lost");
    by_event("summary", "summary");
    defs.set("lost", lost_schema());
    defs.set("summary", summary_schema());
    defs.set("summary_events", obj({{"description", str("the selected events, by name")},
                                    {"type", str("object")},
                                    {"additionalProperties", boolean(false)},
                                    {"properties", summary_events}}));
    defs.set("summary_stats", summary_stats());
    std::vector<const StructLayout*> layouts;
    for (const EventSpec& ev : catalog())
        for (const ArgSpec& a : ev.args)
            if (a.layout && std::find(layouts.begin(), layouts.end(), a.layout) == layouts.end()) {
                layouts.push_back(a.layout);
                defs.set(def_name(a.layout->ctype), struct_schema(*a.layout));
            }
    defs.set("time_ns", integer(kI64Min, kI64Max, "entry time, Unix time in nanoseconds"));
    defs.set("rel_ns", integer(0, kU64Max, "-T relative: nanoseconds since tracing started"));
    defs.set("time", obj({{"description", str("-T iso: ISO 8601 with nanoseconds and the zone")},
                          {"type", str("string")},
                          {"pattern", str("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{9}"
                                          "(Z|[+-][0-9]{2}:[0-9]{2})$")}}));
    defs.set("cpu", integer(0, kI64Max, "the CPU that recorded the entry"));
    defs.set("pid", nullable(integer(0, kI64Max, "process id, null if unknown")));
    defs.set("tid", integer(0, kI64Max, "thread id"));
    defs.set("comm", obj({{"description", str("command name, null if unknown")},
                          {"type", strs({"string", "null"})}}));
    defs.set("ret",
             nullable(integer(kI64Min, kI64Max,
                              "the return value (a negative errno on failure), null if no return was seen")));
    defs.set("errno",
             described("the errno name on failure, else null",
                       obj({{"anyOf", arr({def_ref("errno_name"), obj({{"type", str("null")}})})}})));
    defs.set("latency_ns", nullable(integer(0, kU64Max, "entry to return, null unless the call returned")));
    defs.set("count", integer(0, kU64Max));
    defs.set("address", integer(1, kU64Max, "an address (not NULL)"));
    defs.set("errno_name",
             obj({{"description", str("an errno name, ENOENT (E and the number if it has none); "
                                      "an open set")},
                  {"type", str("string")},
                  {"pattern", str("^E[0-9A-Z]+$")}}));
    defs.set("end", obj({{"description", str("how the call ended")}, {"enum", strs(kEnds)}}));
    std::vector<std::string_view> sources;
    for (Source s : kSources)
        sources.push_back(source_name(s));
    defs.set("source", obj({{"description", str("where the value came from")}, {"enum", strs(sources)}}));
    defs.set("tag", obj({{"enum", strs({"K", "U", "TOCTOU", "OPT"})}}));
    defs.set("tags_by_source", tags_by_source(false));
    defs.set("tags_by_source_opt", tags_by_source(true));

    const std::string v = std::to_string(kSchemaVersion);
    J root = obj(
        {{"$schema", str("https://json-schema.org/draft/2020-12/schema")},
         {"title", str("mqtrace -f json lines, schema " + v)},
         {"description",
          str("One object per line: a call (\"event\" is its syscall), a lost record (\"lost\") or the "
              "summary (\"summary\"), each with \"schema\":" +
              v + " right after \"event\". Within schema " + v +
              " members are never removed or changed; new events, new optional members and new "
              "values of open sets may be added. See mqtrace(8), JSON SCHEMA.")},
         {"type", str("object")},
         {"required", strs({"event", "schema"})},
         {"properties",
          obj({{"event", obj({{"enum", strs(events)}})}, {"schema", obj({{"const", num(kSchemaVersion)}})}})},
         {"not", obj({{"description", str("-T relative and -T iso do not go together")},
                      {"required", strs({"rel_ns", "time"})}})},
         {"allOf", arr(std::move(dispatch))},
         {"$defs", std::move(defs)}});
    std::string out;
    dump(root, out, 0, 0);
    out += '\n';
    return out;
}

} // namespace mqtrace
