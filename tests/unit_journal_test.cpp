// -f journal: the fields of each entry (exact, byte for byte), their names,
// and that they say what the JSON line says (tests/journal_expect.hpp);
// the systemd notification datagrams.
#include "journal_expect.hpp"
#include "mqtrace/catalog.hpp"
#include "mqtrace/cli.hpp"
#include "mqtrace/journal.hpp"
#include "mqtrace/notify.hpp"
#include "mqtrace/schema.hpp"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

using namespace mqtrace;

namespace {

Call make(const char* ev) {
    Call c;
    c.ev = event_index(*find_event(ev));
    c.ts = 1000000000;
    c.ts_end = 1000012000;
    c.cpu = 1;
    c.pid = 42;
    c.tid = 43;
    c.comm = "app";
    c.end = CallEnd::Returned;
    c.args.resize(find_event(ev)->args.size());
    return c;
}

ArgValue num(std::int64_t v) {
    ArgValue a;
    a.present = true;
    a.raw = v;
    return a;
}

ArgValue str(std::string s, Source src) {
    ArgValue a = num(0x7ffd0000);
    a.content = Content::Str;
    a.str = std::move(s);
    a.src = src;
    return a;
}

ArgValue st(std::vector<std::int64_t> m, Source src) {
    ArgValue a = num(0x7ffd1000);
    a.content = Content::Struct;
    for (auto v : m)
        a.members.push_back(v);
    a.src = src;
    return a;
}

FormatOptions text_fmt() {
    FormatOptions o;
    o.clock_offset_ns = 1700000000000000000;
    o.utc = true;
    return o;
}

Item call_item(Call c) {
    Item it;
    it.call = std::move(c);
    return it;
}

using FieldList = std::vector<std::pair<std::string, std::string>>;

FieldList fields(const Item& it, const FormatOptions& f = text_fmt()) {
    JournalEntry e;
    journal_fields(it, f, e);
    FieldList out;
    for (std::size_t i = 0; i < e.size(); ++i) {
        const std::string_view fv = e.field(i);
        const auto eq = fv.find('=');
        out.emplace_back(std::string(fv.substr(0, eq)), std::string(fv.substr(eq + 1)));
    }
    return out;
}

// The fields but MESSAGE=, as a map (names are unique in an entry).
journalexpect::Fields without_message(const FieldList& l) {
    journalexpect::Fields m;
    for (const auto& [k, v] : l) {
        EXPECT_EQ(m.count(k), 0u) << "field " << k << " twice";
        if (k != "MESSAGE") m[k] = v;
    }
    return m;
}

std::string message(const FieldList& l) {
    for (const auto& [k, v] : l)
        if (k == "MESSAGE") return v;
    return "(none)";
}

// Each entry says what the JSON line of the same item says, and its
// MESSAGE= is the text line.
void expect_as_json(const Item& it) {
    FormatOptions j = text_fmt();
    j.format = OutputFormat::Json;
    const std::string line = format_item(it, j);
    const FieldList got = fields(it);
    EXPECT_EQ(without_message(got), journalexpect::from_json(testjson::parse(line))) << line;
    EXPECT_EQ(message(got), format_item(it, text_fmt()));
}

} // namespace

TEST(Journal, FieldNamesAreValidAndUnique) {
    EXPECT_EQ(journal_name("msg_perm.uid"), "MSG_PERM_UID");
    EXPECT_EQ(journal_name("abs_timeout"), "ABS_TIMEOUT");
    // Every name an entry can carry, per event: A-Z, 0-9 and '_', not
    // starting with '_' or a digit, at most 64 bytes, none twice.
    for (const auto& ev : catalog()) {
        Call c = make(std::string(ev.name).c_str());
        for (std::size_t i = 0; i < ev.args.size(); ++i) {
            const ArgSpec& a = ev.args[i];
            if (a.layout) {
                std::vector<std::int64_t> m(a.layout->members.size(), 1);
                c.args[i] = st(m, i % 2 ? Source::UserLate : Source::KernelCopy);
            } else if (a.decode == Decode::Name) {
                c.args[i] = str("q", Source::UserLate);
            } else {
                c.args[i] = num(1);
            }
            c.args[i].why = "x";
            c.args[i].lossy = c.args[i].suspect_fault = true;
            if (c.args[i].content != Content::None) { // a checked kernel copy, and what the caller had
                c.args[i].verify = Verify::Mismatch;
                c.args[i].caller = std::make_shared<const ArgValue>(c.args[i]);
            }
        }
        c.ret = -2;
        for (Source late : {Source::UserLate, Source::UserAtEntry}) {
            for (auto& a : c.args)
                if (a.content != Content::None) a.src = late;
            std::set<std::string> names;
            for (const auto& [k, v] : fields(call_item(c))) {
                EXPECT_TRUE(names.insert(k).second) << ev.name << ": " << k << " twice";
                EXPECT_LE(k.size(), 64u) << k;
                EXPECT_TRUE(k[0] >= 'A' && k[0] <= 'Z') << k;
                for (char ch : k)
                    EXPECT_TRUE((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_') << k;
            }
        }
    }
}

TEST(Journal, CallFieldsExactly) {
    // mq_open(O_CREAT) of a hostile name read at entry, attr the kernel's copy.
    Call c = make("mq_open");
    const std::string hostile("q \"x\\y\nz\x01red\x7f\xff\0end", 17);
    c.args[0] = str(hostile, Source::UserAtEntry);
    c.args[1] = num(0102);
    c.args[2] = num(0600);
    c.args[3] = st({0, 4, 64, 0}, Source::KernelCopy);
    c.ret = 3;
    c.comm = "a\tb\xff";
    const FieldList f = fields(call_item(c));
    const FieldList want{
        {"MESSAGE", format_item(call_item(c), text_fmt())},
        {"PRIORITY", "6"},
        {"SYSLOG_IDENTIFIER", "mqtrace"},
        {"MQTRACE_EVENT", "mq_open"},
        {"MQTRACE_SCHEMA", std::to_string(kSchemaVersion)},
        {"MQTRACE_TIME_NS", "1700000001000000000"},
        {"MQTRACE_CPU", "1"},
        {"MQTRACE_PID", "42"},
        {"MQTRACE_TID", "43"},
        {"MQTRACE_COMM", "a\tb\xff"},
        {"MQTRACE_RET", "3"},
        {"MQTRACE_LATENCY_NS", "12000"},
        {"MQTRACE_END", "returned"},
        {"MQTRACE_ARG_NAME", hostile},
        {"MQTRACE_ARG_NAME_SOURCE", "user-at-entry"},
        {"MQTRACE_ARG_NAME_TAGS", "U,TOCTOU"},
        {"MQTRACE_ARG_OFLAG", "66"},
        {"MQTRACE_ARG_MODE", "384"},
        {"MQTRACE_ARG_ATTR_MQ_FLAGS", "0"},
        {"MQTRACE_ARG_ATTR_MQ_MAXMSG", "4"},
        {"MQTRACE_ARG_ATTR_MQ_MSGSIZE", "64"},
        {"MQTRACE_ARG_ATTR_MQ_CURMSGS", "0"},
        {"MQTRACE_ARG_ATTR_SOURCE", "kernel-copy"},
        {"MQTRACE_ARG_ATTR_TAGS", "K,OPT"},
    };
    EXPECT_EQ(f, want);
    EXPECT_NE(message(f).find("mq_open"), std::string::npos);
    EXPECT_EQ(message(f).find('\n'), std::string::npos) << "the message is the escaped text line";
}

// TOCTOU verified: the kernel's copy is the argument; the check and, on a
// mismatch, the caller's value beside it.
TEST(Journal, KernelCopyCheckedAgainstTheCaller) {
    Call c = make("mq_open");
    c.args[0] = str("q-b", Source::KernelCopy);
    c.args[0].verify = Verify::Mismatch;
    c.args[0].caller = std::make_shared<const ArgValue>(str("q-a", Source::UserAtEntry));
    c.args[1] = num(0102);
    c.args[2] = num(0600);
    c.args[3] = st({0, 4, 64, 0}, Source::KernelCopy);
    c.args[3].verify = Verify::Mismatch;
    c.args[3].caller = std::make_shared<const ArgValue>(st({0, 8, 64, 0}, Source::UserAtEntry));
    c.ret = 3;
    // The fields of name and attr, exactly: the kernel's values, the check, the caller's.
    auto of_args = [&] {
        journalexpect::Fields got;
        for (const auto& [k, v] : without_message(fields(call_item(c))))
            if (k.rfind("MQTRACE_ARG_NAME", 0) == 0 || k.rfind("MQTRACE_ARG_ATTR", 0) == 0) got[k] = v;
        return got;
    };
    journalexpect::Fields want{{"MQTRACE_ARG_NAME", "q-b"},
                               {"MQTRACE_ARG_NAME_SOURCE", "kernel-copy"},
                               {"MQTRACE_ARG_NAME_TAGS", "K"},
                               {"MQTRACE_ARG_NAME_TOCTOU", "mismatch"},
                               {"MQTRACE_ARG_NAME_CALLER", "q-a"},
                               {"MQTRACE_ARG_ATTR_MQ_FLAGS", "0"},
                               {"MQTRACE_ARG_ATTR_MQ_MAXMSG", "4"},
                               {"MQTRACE_ARG_ATTR_MQ_MSGSIZE", "64"},
                               {"MQTRACE_ARG_ATTR_MQ_CURMSGS", "0"},
                               {"MQTRACE_ARG_ATTR_SOURCE", "kernel-copy"},
                               {"MQTRACE_ARG_ATTR_TAGS", "K,OPT"},
                               {"MQTRACE_ARG_ATTR_TOCTOU", "mismatch"},
                               {"MQTRACE_ARG_ATTR_CALLER_MQ_FLAGS", "0"},
                               {"MQTRACE_ARG_ATTR_CALLER_MQ_MAXMSG", "8"},
                               {"MQTRACE_ARG_ATTR_CALLER_MQ_MSGSIZE", "64"},
                               {"MQTRACE_ARG_ATTR_CALLER_MQ_CURMSGS", "0"}};
    EXPECT_EQ(of_args(), want);
    // Verified: the check, no caller's value.
    c.args[0].verify = c.args[3].verify = Verify::Verified;
    c.args[0].caller.reset();
    c.args[3].caller.reset();
    std::erase_if(want, [](const auto& kv) { return kv.first.find("_CALLER") != std::string::npos; });
    want["MQTRACE_ARG_NAME_TOCTOU"] = want["MQTRACE_ARG_ATTR_TOCTOU"] = "verified";
    EXPECT_EQ(of_args(), want);
}

TEST(Journal, LateValuesAreBesideTheArgumentNeverIt) {
    // A name read after the call: the argument is its address, the read is LATE.
    Call c = make("mq_unlink");
    c.args[0] = str("mqt-late", Source::UserLate);
    c.ret = -2;
    FieldList f = fields(call_item(c));
    journalexpect::Fields m = without_message(f);
    EXPECT_EQ(m["MQTRACE_ARG_NAME"], std::to_string(0x7ffd0000));
    EXPECT_EQ(m["MQTRACE_LATE_NAME"], "mqt-late");
    EXPECT_EQ(m["MQTRACE_ARG_NAME_SOURCE"], "user-late");
    EXPECT_EQ(m["MQTRACE_ARG_NAME_TAGS"], "U,TOCTOU");
    EXPECT_EQ(m["MQTRACE_ERRNO"], "ENOENT");
    EXPECT_EQ(m["MQTRACE_RET"], "-2");
    EXPECT_EQ(m["PRIORITY"], "5");
    // A struct read after the call: LATE_<NAME>_<MEMBER>.
    Call s = make("msgsnd");
    s.args[0] = num(7);
    s.args[1] = st({42}, Source::UserLate);
    s.args[2] = num(7);
    s.args[3] = num(04000);
    s.ret = 0;
    m = without_message(fields(call_item(s)));
    EXPECT_EQ(m["MQTRACE_ARG_MSGP"], std::to_string(0x7ffd1000));
    EXPECT_EQ(m["MQTRACE_LATE_MSGP_MTYPE"], "42");
    EXPECT_EQ(m.count("MQTRACE_ARG_MSGP_MTYPE"), 0u);
    EXPECT_EQ(m["MQTRACE_ARG_MSGFLG"], "2048");
    EXPECT_EQ(m["PRIORITY"], "6");
    EXPECT_EQ(m.count("MQTRACE_ERRNO"), 0u);
}

TEST(Journal, UnknownAndUnfinishedAndLost) {
    // Unreadable memory, a NULL pointer, an unknown argument, an errno without a name.
    Call c = make("mq_timedsend");
    c.args[0] = num(3);
    c.args[1] = num(0x1000);
    c.args[2] = num(-1); // size_t: unsigned
    c.args[3] = num(0);
    c.args[4] = num(0x10);
    c.args[4].content = Content::Unreadable;
    c.args[4].why = "bad address";
    c.args[4].src = Source::UserLate;
    c.ret = -4000;
    journalexpect::Fields m = without_message(fields(call_item(c)));
    EXPECT_EQ(m["MQTRACE_ARG_MSG_LEN"], "18446744073709551615");
    EXPECT_EQ(m["MQTRACE_ARG_ABS_TIMEOUT"], "16");
    EXPECT_EQ(m["MQTRACE_ARG_ABS_TIMEOUT_UNREADABLE"], "bad address");
    EXPECT_EQ(m["MQTRACE_ERRNO"], "E4000");
    c.args[4] = num(0); // NULL: no field, as JSON's null
    c.args[0] = ArgValue{};
    c.end = CallEnd::TraceEnded;
    c.pid = -1;
    c.comm.clear();
    m = without_message(fields(call_item(c)));
    EXPECT_EQ(m.count("MQTRACE_ARG_ABS_TIMEOUT"), 0u);
    EXPECT_EQ(m.count("MQTRACE_ARG_MQDES"), 0u);
    for (const char* gone :
         {"MQTRACE_RET", "MQTRACE_ERRNO", "MQTRACE_LATENCY_NS", "MQTRACE_PID", "MQTRACE_COMM"})
        EXPECT_EQ(m.count(gone), 0u) << gone;
    EXPECT_EQ(m["MQTRACE_END"], "trace-ended");
    EXPECT_EQ(m["PRIORITY"], "6");
    // Lost records: a warning with their count.
    Item lost;
    lost.is_call = false;
    lost.lost = LostNotice{2000000000, 1, 17, "ring buffer"};
    const FieldList f = fields(lost);
    const FieldList want{{"MESSAGE", format_item(lost, text_fmt())},
                         {"PRIORITY", "4"},
                         {"SYSLOG_IDENTIFIER", "mqtrace"},
                         {"MQTRACE_EVENT", "lost"},
                         {"MQTRACE_SCHEMA", std::to_string(kSchemaVersion)},
                         {"MQTRACE_TIME_NS", "1700000002000000000"},
                         {"MQTRACE_CPU", "1"},
                         {"MQTRACE_COUNT", "17"},
                         {"MQTRACE_WHERE", "ring buffer"}};
    EXPECT_EQ(f, want);
    lost.lost = LostNotice{2000000000, -1, -1, "kprobe misses: mq_open"};
    const journalexpect::Fields l = without_message(fields(lost));
    EXPECT_EQ(l.count("MQTRACE_CPU"), 0u);
    EXPECT_EQ(l.count("MQTRACE_COUNT"), 0u);
    // The -c summary: one entry.
    JournalEntry e;
    journal_text_fields("a\nb\n", e);
    ASSERT_EQ(e.size(), 5u);
    EXPECT_EQ(e.field(0), "MESSAGE=a\nb");
    EXPECT_EQ(e.field(3), "MQTRACE_EVENT=summary");
    EXPECT_EQ(e.field(4), "MQTRACE_SCHEMA=" + std::to_string(kSchemaVersion));
    const std::vector<iovec>& v = e.iov();
    ASSERT_EQ(v.size(), 5u);
    EXPECT_EQ(std::string_view(static_cast<const char*>(v[0].iov_base), v[0].iov_len), "MESSAGE=a\nb");
}

// Every event with every kind of value, and random bytes as names and comm:
// the entry holds exactly what the JSON line holds (mapped as documented),
// the strings byte for byte, and MESSAGE= is the text line.
TEST(Journal, EveryEntrySaysWhatItsJsonLineSays) {
    std::mt19937 rng(20261203);
    const Source sources[] = {Source::Register, Source::KernelCopy, Source::UserAtEntry, Source::UserLate,
                              Source::UserStack};
    const CallEnd ends[] = {CallEnd::Returned, CallEnd::ThreadExited, CallEnd::NoReturnSeen,
                            CallEnd::TraceEnded, CallEnd::EntryNotSeen};
    auto bytes = [&](std::size_t max) {
        std::string s(rng() % (max + 1), '\0');
        for (auto& ch : s)
            ch = static_cast<char>(rng() % 256);
        return s;
    };
    std::deque<std::string> reasons; // what the calls' reasons point to (a MemoryReader keeps them live)
    int n = 0;
    for (int round = 0; round < 400; ++round)
        for (const auto& ev : catalog()) {
            Call c = make(std::string(ev.name).c_str());
            c.end = ends[rng() % 5];
            c.ret =
                rng() % 3 == 0 ? -static_cast<std::int64_t>(rng() % 140) : static_cast<std::int64_t>(rng());
            c.pid = rng() % 5 == 0 ? -1 : static_cast<int>(rng() % 100000);
            c.comm = rng() % 5 == 0 ? "" : bytes(15);
            for (std::size_t i = 0; i < ev.args.size(); ++i) {
                const ArgSpec& a = ev.args[i];
                ArgValue& v = c.args[i];
                const unsigned k = rng() % 6;
                if (k == 0) continue; // unknown
                v = num(k == 1 ? 0 : static_cast<std::int64_t>(rng()) - (1LL << 31));
                if (k >= 3 && a.decode == Decode::Name) v = str(bytes(40), sources[1 + rng() % 4]);
                if (k >= 3 && a.layout) {
                    std::vector<std::int64_t> m;
                    for (std::size_t j = 0; j < a.layout->members.size(); ++j)
                        m.push_back(static_cast<std::int64_t>(rng()) - (1LL << 31));
                    v = st(m, sources[1 + rng() % 4]);
                }
                if (k == 5 && (a.decode == Decode::Name || a.layout)) {
                    v.content = Content::Unreadable;
                    v.why = reasons.emplace_back(bytes(20));
                }
                v.lossy = rng() % 7 == 0;
                v.suspect_fault = rng() % 9 == 0;
                if (v.content == Content::None) v.src = Source::Register;
            }
            if (!ev.body.ptr.empty() && rng() % 2) { // --flows
                Flow& f = c.flow;
                const bool rx = ev.body.received();
                f.link = rx ? static_cast<Link>(2 + rng() % 4) : Link::Sent;
                if (f.link == Link::Sent || f.link == Link::Content || f.link == Link::Order)
                    f.msg_id = 1 + rng() % 100000;
                f.copy = rx && ev.family == Family::SysV && rng() % 3 == 0;
                f.candidates = 2 + rng() % 5;
                f.why = "its queue is not known";
                f.queued_ns = rng();
                f.from_pid = rng() % 5 == 0 ? -1 : static_cast<int>(rng() % 100000);
                f.from_tid = static_cast<int>(rng() % 100000);
                f.from_comm = rng() % 5 == 0 ? "" : bytes(15);
            }
            expect_as_json(call_item(c));
            ++n;
        }
    Item lost;
    lost.is_call = false;
    lost.lost = LostNotice{5, 0, 3, "stats: dropped"};
    expect_as_json(lost);
    EXPECT_EQ(n, 4000);
}

// -f journal is a format value; without libsystemd a usage error that says so.
TEST(Journal, CommandLine) {
    Cli c = parse_cli({"-f", "journal"});
    if (journal_built()) {
        EXPECT_EQ(c.error, "");
        EXPECT_TRUE(c.trace.journal);
        EXPECT_EQ(c.trace.fmt.format, OutputFormat::Text) << "MESSAGE= is the text line";
    } else {
        EXPECT_NE(c.error.find("built without libsystemd"), std::string::npos) << c.error;
        EXPECT_THROW(JournalSink{}, std::runtime_error);
    }
    EXPECT_FALSE(parse_cli({"-f", "json"}).trace.journal);
    EXPECT_NE(parse_cli({"-f", "journal", "-o", "x"}).error, "");
    EXPECT_NE(parse_cli({"-f", "journald"}).error.find("text, json, journal"), std::string::npos);
}

// sd_notify's protocol: datagrams on NOTIFY_SOCKET, READY=1 then STATUS=,
// STOPPING=1; NOTIFY_SOCKET is taken out of the environment.
TEST(Notify, DatagramsOnTheNotifySocket) {
    const std::string path = "/tmp/mqtrace-unit-notify-" + std::to_string(getpid());
    const int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(s, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
    unlink(path.c_str());
    ASSERT_EQ(bind(s, reinterpret_cast<const sockaddr*>(&sa), sizeof sa), 0) << std::strerror(errno);
    auto next = [&] {
        char buf[4096];
        timeval tv{2, 0};
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        const ssize_t n = recv(s, buf, sizeof buf, 0);
        return n < 0 ? std::string("(nothing)") : std::string(buf, static_cast<std::size_t>(n));
    };
    ASSERT_TRUE(notify_to(path, "X=1"));
    EXPECT_EQ(next(), "X=1");
    EXPECT_FALSE(notify_to("relative", "X=1"));
    EXPECT_FALSE(notify_to("vsock:2:3", "X=1"));
    setenv("NOTIFY_SOCKET", path.c_str(), 1);
    setenv("WATCHDOG_USEC", "4000000", 1);
    setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
    notify_init();
    EXPECT_EQ(std::getenv("NOTIFY_SOCKET"), nullptr);
    EXPECT_EQ(std::getenv("WATCHDOG_USEC"), nullptr);
    EXPECT_TRUE(notify_enabled());
    EXPECT_FALSE(notify_due()) << "nothing is due before READY=1";
    notify_ready("Tracing 10 syscalls (syscalls backend): ");
    EXPECT_EQ(next(), "READY=1\nSTATUS=Tracing 10 syscalls (syscalls backend): 0 calls, 0 written, 0 lost\n"
                      "WATCHDOG=1");
    EXPECT_FALSE(notify_due());
    notify_status("5 calls, 5 written, 0 lost");
    EXPECT_EQ(next(),
              "STATUS=Tracing 10 syscalls (syscalls backend): 5 calls, 5 written, 0 lost\nWATCHDOG=1");
    // Every 2 s with a 4 s watchdog.
    usleep(2100000);
    int calls = 0;
    notify_tick([&] {
        ++calls;
        return std::string("7 calls, 7 written, 1 lost");
    });
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(next(),
              "STATUS=Tracing 10 syscalls (syscalls backend): 7 calls, 7 written, 1 lost\nWATCHDOG=1");
    notify_stopping("7 calls, 7 written, 1 lost");
    EXPECT_EQ(next(), "STOPPING=1\nSTATUS=Stopping: 7 calls, 7 written, 1 lost\nWATCHDOG=1");
    EXPECT_FALSE(notify_due());
    close(s);
    unlink(path.c_str());
}

// mqtrace(8), OUTPUT, Journal, names every field an entry can carry.
TEST(Journal, EveryFieldIsInTheManPage) {
    std::ifstream in(std::string(MQTRACE_SOURCE_ROOT) + "/man/mqtrace.8");
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string page = ss.str();
    for (std::size_t p; (p = page.find("\\-")) != std::string::npos;)
        page.replace(p, 2, "-");
    const auto a = page.find(".SS Journal\n");
    ASSERT_NE(a, std::string::npos) << "no .SS Journal in mqtrace(8)";
    const std::string sec = page.substr(a, page.find("\n.S", a + 1) - a);
    std::set<std::string> names;
    for (const auto& ev : catalog()) {
        Call c = make(std::string(ev.name).c_str());
        c.ret = -2;
        for (std::size_t i = 0; i < ev.args.size(); ++i) {
            c.args[i] = num(1);
            c.args[i].content = Content::Unreadable;
            c.args[i].lossy = c.args[i].suspect_fault = true;
        }
        for (const auto& [k, v] : fields(call_item(c)))
            names.insert(k);
    }
    Item lost;
    lost.is_call = false;
    lost.lost = LostNotice{1, 0, 1, "ring buffer"};
    for (const auto& [k, v] : fields(lost))
        names.insert(k);
    for (std::string n : names) {
        // Per argument: documented as MQTRACE_ARG_NAME_SUFFIX, with NAME in italics.
        for (const char* prefix : {"MQTRACE_ARG_", "MQTRACE_LATE_"})
            if (n.rfind(prefix, 0) == 0) {
                std::string suffix;
                for (const char* s : {"_SOURCE", "_TAGS", "_UNREADABLE", "_LOSSY", "_SUSPECT_FAULT"})
                    if (n.size() > std::strlen(s) &&
                        n.compare(n.size() - std::strlen(s), std::string::npos, s) == 0)
                        suffix = s;
                n = std::string(prefix) + " NAME" + (suffix.empty() ? "" : " " + suffix);
            }
        EXPECT_NE(sec.find(n), std::string::npos) << n << " is not in mqtrace(8), OUTPUT, Journal";
    }
    EXPECT_NE(sec.find("MQTRACE_LATE_ NAME"), std::string::npos);
    EXPECT_NE(sec.find("MQTRACE_ARG_ NAME _ MEMBER"), std::string::npos);
    EXPECT_NE(sec.find("MQTRACE_EVENT=summary"), std::string::npos);
}
