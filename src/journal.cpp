// -f journal. See include/mqtrace/journal.hpp.
#include "mqtrace/journal.hpp"

#include "mqtrace/catalog.hpp"
#include "mqtrace/schema.hpp"
#include "mqtrace/xlat.hpp"
#include "mqtrace_config.h"

#if MQTRACE_HAVE_JOURNAL
#define SD_JOURNAL_SUPPRESS_LOCATION // no CODE_FILE=, CODE_LINE=, CODE_FUNC= of ours in each entry
#include <systemd/sd-journal.h>
#endif

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>

namespace mqtrace {
namespace {

// The journal's native socket (what sd_journal_sendv writes to).
constexpr const char* kJournalSocket = "/run/systemd/journal/socket";

// The field names of every event's arguments, made once from the catalog.
struct ArgNames {
    std::string arg, late;                          // MQTRACE_ARG_NAME, MQTRACE_LATE_NAME
    std::vector<std::string> members, late_members; // MQTRACE_ARG_NAME_MEMBER, MQTRACE_LATE_NAME_MEMBER
    std::string source, tags, unreadable, lossy, suspect_fault; // MQTRACE_ARG_NAME_SOURCE...
    std::string toctou, caller;                                 // MQTRACE_ARG_NAME_TOCTOU, _CALLER
    std::vector<std::string> caller_members;                    // MQTRACE_ARG_NAME_CALLER_MEMBER
};

const std::vector<std::vector<ArgNames>>& names() {
    static const std::vector<std::vector<ArgNames>> all = [] {
        std::vector<std::vector<ArgNames>> out;
        for (const EventSpec& ev : catalog()) {
            auto& args = out.emplace_back();
            for (const ArgSpec& a : ev.args) {
                ArgNames& n = args.emplace_back();
                const std::string up = journal_name(a.name);
                n.arg = "MQTRACE_ARG_" + up;
                n.late = "MQTRACE_LATE_" + up;
                n.caller = n.arg + "_CALLER";
                if (a.layout)
                    for (const Member& m : a.layout->members) {
                        n.members.push_back(n.arg + "_" + journal_name(m.name));
                        n.late_members.push_back(n.late + "_" + journal_name(m.name));
                        n.caller_members.push_back(n.caller + "_" + journal_name(m.name));
                    }
                n.toctou = n.arg + "_TOCTOU";
                n.source = n.arg + "_SOURCE";
                n.tags = n.arg + "_TAGS";
                n.unreadable = n.arg + "_UNREADABLE";
                n.lossy = n.arg + "_LOSSY";
                n.suspect_fault = n.arg + "_SUSPECT_FAULT";
            }
        }
        return out;
    }();
    return all;
}

// The content of a pointer argument: the string's bytes, or one field per member.
void content(JournalEntry& e, const ArgSpec& spec, const std::string& name,
             const std::vector<std::string>& members, const ArgValue& a) {
    if (a.content == Content::Str) {
        e.add(name, a.str);
        return;
    }
    for (std::size_t m = 0; m < spec.layout->members.size(); ++m) {
        const std::int64_t v = m < a.members.size() ? a.members[m] : 0;
        const Member& mem = spec.layout->members[m];
        if (!mem.is_signed && mem.size == 8)
            e.add_unum(members[m], static_cast<std::uint64_t>(v)); // as JSON: never negative
        else
            e.add_num(members[m], v);
    }
}

// The message: the line -f text prints.
void message(JournalEntry& e, const Item& it, const FormatOptions& f) {
    e.begin("MESSAGE");
    if (f.format == OutputFormat::Text) {
        append_item(it, f, e.buffer());
    } else {
        FormatOptions t = f;
        t.format = OutputFormat::Text;
        append_item(it, t, e.buffer());
    }
    e.end();
}

void call_fields(const Item& it, const FormatOptions& f, JournalEntry& e) {
    const Call& c = it.call;
    const EventSpec& ev = catalog()[static_cast<std::size_t>(c.ev)];
    const std::vector<ArgNames>& an = names()[static_cast<std::size_t>(c.ev)];
    const bool done = has_ret(c);
    const bool failed = done && is_error(c.ret);
    message(e, it, f);
    e.add_num("PRIORITY", failed ? kJournalPrioFailed : kJournalPrioOk);
    e.add("SYSLOG_IDENTIFIER", kJournalIdentifier);
    e.add("MQTRACE_EVENT", ev.name);
    e.add_num("MQTRACE_SCHEMA", kSchemaVersion); // the JSON lines' "schema": the same fields
    e.add_num("MQTRACE_TIME_NS", static_cast<std::int64_t>(c.ts) + f.clock_offset_ns);
    e.add_num("MQTRACE_CPU", c.cpu);
    if (c.pid >= 0) e.add_num("MQTRACE_PID", c.pid);
    e.add_num("MQTRACE_TID", c.tid);
    if (!c.comm.empty()) e.add("MQTRACE_COMM", c.comm);
    if (done) e.add_num("MQTRACE_RET", c.ret);
    if (failed) {
        const int err = static_cast<int>(-c.ret);
        const std::string_view n = known_errno_name(err);
        if (!n.empty()) {
            e.add("MQTRACE_ERRNO", n);
        } else {
            e.begin("MQTRACE_ERRNO");
            e.buffer() += 'E';
            e.buffer() += std::to_string(err);
            e.end();
        }
    }
    if (c.end == CallEnd::Returned) e.add_unum("MQTRACE_LATENCY_NS", c.ts_end - c.ts);
    e.add("MQTRACE_END", end_name(c.end));
    for (std::size_t i = 0; i < ev.args.size() && i < c.args.size(); ++i) {
        const ArgSpec& spec = ev.args[i];
        const ArgValue& a = c.args[i];
        const ArgNames& n = an[i];
        const bool value = decoded(spec, a);
        const bool pointer = spec.decode == Decode::Struct || spec.decode == Decode::Name;
        if (value && a.src != Source::UserLate) {
            content(e, spec, n.arg, n.members, a);
        } else if (!a.present || (pointer && a.raw == 0)) {
            // unknown, or a NULL pointer: no field (JSON's null)
        } else if (spec.decode == Decode::UInt || spec.decode == Decode::Ptr || pointer) {
            e.add_unum(n.arg, static_cast<std::uint64_t>(a.raw));
        } else {
            e.add_num(n.arg, a.raw);
        }
        // Read after the call: beside the argument (its address), never as it.
        if (value && a.src == Source::UserLate) content(e, spec, n.late, n.late_members, a);
        if (a.content == Content::None) continue;
        e.add(n.source, source_name(a.src));
        e.begin(n.tags);
        std::string& b = e.buffer();
        const std::size_t start = b.size();
        auto tag = [&](std::string_view t) {
            if (b.size() > start) b += ',';
            b += t;
        };
        if (a.src == Source::KernelCopy) tag("K");
        if (a.src == Source::UserAtEntry || a.src == Source::UserLate || a.src == Source::UserStack) {
            tag("U");
            tag("TOCTOU");
        }
        if (spec.tags & kTagOPT) tag("OPT");
        e.end();
        if (a.content == Content::Unreadable) e.add(n.unreadable, a.why);
        if (a.suspect_fault) e.add(n.suspect_fault, "1");
        if (a.lossy) e.add(n.lossy, "1");
        if (a.verify != Verify::None) e.add(n.toctou, a.verify == Verify::Verified ? "verified" : "mismatch");
        if (a.caller) content(e, spec, n.caller, n.caller_members, *a.caller);
    }
    // Output parameters, as JSON's "out" (MQTRACE_OUT_*) and "out_late" (MQTRACE_LATE_OUT_*).
    for (std::size_t i = 0; i < ev.outs.size() && i < c.outs.size(); ++i) {
        const OutSpec& o = ev.outs[i];
        const ArgValue& a = c.outs[i];
        if (a.content == Content::None) continue;
        const std::string base =
            (a.src == Source::UserLate ? "MQTRACE_LATE_OUT_" : "MQTRACE_OUT_") + journal_name(o.name);
        auto value = [&](const std::string& name, const Member& m, std::int64_t v) {
            m.is_signed ? e.add_num(name, v) : e.add_unum(name, static_cast<std::uint64_t>(v));
        };
        if (a.content == Content::Struct) {
            if (!o.layout)
                value(base, o.scalar, a.members.empty() ? 0 : a.members[0]);
            else
                for (std::size_t m = 0; m < o.layout->members.size(); ++m)
                    value(base + "_" + journal_name(o.layout->members[m].name), o.layout->members[m],
                          m < a.members.size() ? a.members[m] : 0);
        }
        const std::string info = "MQTRACE_OUT_" + journal_name(o.name);
        e.add(info + "_SOURCE", source_name(a.src));
        if (a.content == Content::Unreadable) e.add(info + "_UNREADABLE", a.why);
    }
    // Descriptor context, as JSON's "queue".
    if (c.queue.src != QueueSource::None) {
        if (c.queue.src == QueueSource::Msgget || c.queue.src == QueueSource::Sysvipc)
            e.add_num("MQTRACE_QUEUE_KEY", c.queue.key);
        else
            e.add("MQTRACE_QUEUE", c.queue.name());
        e.add("MQTRACE_QUEUE_SOURCE", queue_source_name(c.queue.src));
    }
    // --flows, as JSON's msg_id, link, candidates, link_why, queued_ns, from, copy.
    const Flow& fl = c.flow;
    if (fl.msg_id) e.add_unum("MQTRACE_MSG_ID", fl.msg_id);
    if (fl.link != Link::None && fl.link != Link::Sent) {
        e.add("MQTRACE_LINK", link_name(fl.link));
        if (fl.copy) e.add("MQTRACE_COPY", "1");
        if (fl.link == Link::Ambiguous) e.add_unum("MQTRACE_CANDIDATES", fl.candidates);
        if (fl.link == Link::Unknown) e.add("MQTRACE_LINK_WHY", fl.why ? fl.why : "");
        if (fl.link == Link::Content || fl.link == Link::Order) {
            e.add_unum("MQTRACE_QUEUED_NS", fl.queued_ns);
            if (fl.from_pid >= 0) e.add_num("MQTRACE_FROM_PID", fl.from_pid);
            e.add_num("MQTRACE_FROM_TID", fl.from_tid);
            if (!fl.from_comm.empty()) e.add("MQTRACE_FROM_COMM", fl.from_comm);
        }
    }
    // --payload: the body's bytes, as JSON's "body"/"body_late" and "body_info".
    if (c.body.content != Content::None) {
        if (c.body.content == Content::Str)
            e.add(c.body.src == Source::UserLate ? "MQTRACE_LATE_BODY" : "MQTRACE_BODY", c.body.str);
        e.add("MQTRACE_BODY_SOURCE", source_name(c.body.src));
        e.add_unum("MQTRACE_BODY_LEN", body_length(c));
        if (c.body.content == Content::Str && c.body.str.size() < body_length(c))
            e.add("MQTRACE_BODY_CUT", "1");
        if (c.body.content == Content::Unreadable) e.add("MQTRACE_BODY_UNREADABLE", c.body.why);
    }
}

void lost_fields(const Item& it, const FormatOptions& f, JournalEntry& e) {
    const LostNotice& l = it.lost;
    message(e, it, f);
    e.add_num("PRIORITY", kJournalPrioLost);
    e.add("SYSLOG_IDENTIFIER", kJournalIdentifier);
    e.add("MQTRACE_EVENT", "lost");
    e.add_num("MQTRACE_SCHEMA", kSchemaVersion);
    e.add_num("MQTRACE_TIME_NS", static_cast<std::int64_t>(l.ts) + f.clock_offset_ns);
    if (l.cpu >= 0) e.add_num("MQTRACE_CPU", l.cpu);
    if (l.count >= 0) e.add_num("MQTRACE_COUNT", l.count);
    e.add("MQTRACE_WHERE", l.where);
}

} // namespace

std::string journal_name(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        if (c >= 'a' && c <= 'z')
            out += static_cast<char>(c - 'a' + 'A');
        else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            out += c;
        else
            out += '_';
    }
    return out;
}

void JournalEntry::begin(std::string_view name) {
    open_ = buf_.size();
    buf_ += name;
    buf_ += '=';
}

void JournalEntry::end() { spans_.emplace_back(open_, buf_.size() - open_); }

void JournalEntry::add(std::string_view name, std::string_view value) {
    begin(name);
    buf_ += value;
    end();
}

void JournalEntry::add_num(std::string_view name, std::int64_t v) {
    begin(name);
    char d[24];
    buf_.append(d, static_cast<std::size_t>(std::to_chars(d, d + sizeof d, v).ptr - d));
    end();
}

void JournalEntry::add_unum(std::string_view name, std::uint64_t v) {
    begin(name);
    char d[24];
    buf_.append(d, static_cast<std::size_t>(std::to_chars(d, d + sizeof d, v).ptr - d));
    end();
}

const std::vector<iovec>& JournalEntry::iov() {
    iov_.resize(spans_.size());
    for (std::size_t i = 0; i < spans_.size(); ++i)
        iov_[i] = iovec{buf_.data() + spans_[i].first, spans_[i].second};
    return iov_;
}

void journal_fields(const Item& it, const FormatOptions& f, JournalEntry& e) {
    e.clear();
    if (it.is_call)
        call_fields(it, f, e);
    else
        lost_fields(it, f, e);
}

void journal_text_fields(std::string_view text, JournalEntry& e) {
    e.clear();
    while (!text.empty() && text.back() == '\n')
        text.remove_suffix(1);
    e.add("MESSAGE", text);
    e.add_num("PRIORITY", kJournalPrioOk);
    e.add("SYSLOG_IDENTIFIER", kJournalIdentifier);
    e.add("MQTRACE_EVENT", "summary");
    e.add_num("MQTRACE_SCHEMA", kSchemaVersion);
}

bool journal_built() { return MQTRACE_HAVE_JOURNAL != 0; }

JournalSink::JournalSink() {
    if (!journal_built())
        throw std::runtime_error(
            "-f journal: this mqtrace was built without libsystemd (meson option journal)");
    // sd_journal_sendv finds out only entry by entry: ask once, before tracing.
    const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        throw std::runtime_error(std::string("cannot write to the journal: socket: ") + std::strerror(errno));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, kJournalSocket, sizeof sa.sun_path - 1);
    const int r = connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
    const int err = errno;
    close(fd);
    if (r != 0)
        throw std::runtime_error(std::string("cannot write to the journal: ") + kJournalSocket + ": " +
                                 std::strerror(err) + " (is systemd-journald running?)");
}

int JournalSink::send_entry() {
#if MQTRACE_HAVE_JOURNAL
    const std::vector<iovec>& v = e_.iov();
    return sd_journal_sendv(v.data(), static_cast<int>(v.size()));
#else
    return -ENOSYS;
#endif
}

int JournalSink::send(const Item& it, const FormatOptions& f) {
    journal_fields(it, f, e_);
    return send_entry();
}

int JournalSink::send_text(std::string_view text) {
    journal_text_fields(text, e_);
    return send_entry();
}

} // namespace mqtrace
