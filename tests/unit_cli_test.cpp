// The command line, the call selection (what the kernel filters, what is left
// to user space) and the summary: pure parts, tested without a kernel.
#include "json.hpp"
#include "mqtrace/catalog.hpp"
#include "mqtrace/cli.hpp"
#include "mqtrace/depths.hpp"
#include "mqtrace/filter.hpp"
#include "mqtrace/format.hpp"
#include "mqtrace/rotate.hpp"
#include "mqtrace/summary.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <ctime>

using namespace mqtrace;

namespace {

int ev(const char* name) { return event_index(*find_event(name)); }

Cli parse(std::vector<std::string> a) { return parse_cli(a); }

Call call(const char* name, std::int64_t ret, std::uint64_t lat_ns, int pid = 10, const char* comm = "app") {
    Call c;
    c.ev = ev(name);
    c.ts = 5000000000;
    c.ts_end = c.ts + lat_ns;
    c.pid = pid;
    c.tid = pid;
    c.comm = comm;
    c.end = CallEnd::Returned;
    c.ret = ret;
    c.args.resize(find_event(name)->args.size());
    return c;
}

Probe probe(Role role, const char* event, int e) {
    Probe p{ProbeKind::Tracepoint, "syscalls", event, "", {}, role, e};
    if (role == Role::Return) {
        Field f;
        f.name = "ret";
        f.key = "$ret";
        p.fields.push_back(f);
    }
    return p;
}

KernelFacts kernel(int major, int minor) {
    KernelFacts k;
    k.major = major;
    k.minor = minor;
    return k;
}

} // namespace

TEST(Cli, EventListsWithExclusions) {
    auto events = [](const std::string& list) {
        Cli c = parse({"-e", list});
        EXPECT_EQ(c.error, "") << list;
        std::vector<std::string> names;
        for (int e : c.trace.events)
            names.emplace_back(catalog()[static_cast<std::size_t>(e)].name);
        return names;
    };
    using V = std::vector<std::string>;
    EXPECT_EQ(events("msgsnd,mq_open"), (V{"mq_open", "msgsnd"})); // catalog order
    EXPECT_EQ(events("sysv"), (V{"msgget", "msgsnd", "msgrcv", "msgctl"}));
    EXPECT_EQ(events("posix,!mq_notify,-mq_getsetattr"),
              (V{"mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive"}));
    EXPECT_EQ(events("!posix"), (V{"msgget", "msgsnd", "msgrcv", "msgctl"}));
    EXPECT_EQ(events("-msgctl,-msgget").size(), 8u);
    EXPECT_EQ(parse({"--events=-mq_open"}).trace.events.size(), 9u);
    EXPECT_EQ(parse({"-e", "mq_open,!mq_open"}).error, "no events selected by 'mq_open,!mq_open'");
    EXPECT_EQ(parse({"-e", "mq_open,!bogus"}).error, "unknown event 'bogus' (see mqtrace --list)");
}

TEST(Cli, SelectionOptions) {
    Cli c = parse({"-p", "12,34", "-t", "56 78", "--comm", "a-very-long-program-name", "-u", "0", "-x"});
    ASSERT_EQ(c.error, "");
    EXPECT_EQ(c.trace.sel.pids, (std::vector<int>{12, 34}));
    EXPECT_EQ(c.trace.sel.tids, (std::vector<int>{56, 78}));
    EXPECT_EQ(c.trace.sel.comm, "a-very-long-pro"); // the kernel keeps 15 bytes
    EXPECT_EQ(c.trace.sel.uid, 0);
    EXPECT_TRUE(c.trace.sel.failed);
    EXPECT_EQ(parse({"-u", "root"}).trace.sel.uid, 0);
    EXPECT_EQ(parse({"-p", "12,x"}).error, "--pid takes positive numbers separated by commas, not 'x'");
    EXPECT_EQ(parse({"-t", "0"}).error, "--tid takes positive numbers separated by commas, not '0'");
    EXPECT_EQ(parse({"-p", ","}).error, "--pid needs at least one id");
    EXPECT_EQ(parse({"-u", "no-such-user-here"}).error, "--uid: no user 'no-such-user-here'");
    EXPECT_EQ(parse({"--comm", ""}).error, "--comm needs a command name");
}

TEST(Cli, SummaryTimesAndShellOptions) {
    Cli c = parse({"-C", "--per-process", "-T", "relative", "--utc", "--strict", "-q"});
    ASSERT_EQ(c.error, "");
    EXPECT_EQ(c.trace.summary, SummaryMode::WithEvents);
    EXPECT_TRUE(c.trace.per_process);
    EXPECT_EQ(c.trace.fmt.time, TimeMode::Relative);
    EXPECT_TRUE(c.trace.fmt.utc && c.trace.strict && c.trace.quiet);
    EXPECT_EQ(parse({"-c"}).trace.summary, SummaryMode::Only);
    EXPECT_EQ(parse({"-T", "iso"}).trace.fmt.time, TimeMode::Iso);
    EXPECT_EQ(parse({}).trace.fmt.time, TimeMode::Wall);
    EXPECT_EQ(parse({"-c", "-C"}).error, "-c and -C do not go together");
    EXPECT_EQ(parse({"--per-process"}).error, "--per-process goes with -c or -C");
    EXPECT_EQ(parse({"-T", "julian"}).error, "--time must be one of wall, relative, iso, not 'julian'");
    EXPECT_EQ(parse({"-w", "f", "-c"}).error, "-w decodes nothing: -n, -o, -f, -T, -c and -C need --print");
    EXPECT_EQ(parse({"-r", "f", "-u", "0"}).error,
              "-r reads a recording: it holds no user ids, so -u does not apply");
    // "-": standard output (-w) and input (-r), as tcpdump's.
    EXPECT_EQ(parse({"-w", "-"}).error, "");
    EXPECT_EQ(parse({"-w", "-"}).trace.write_file, "-");
    EXPECT_EQ(parse({"-r", "-"}).trace.read_file, "-");
    EXPECT_EQ(parse({"-w", "-", "--print", "-o", "f"}).error, "");
    EXPECT_EQ(parse({"-w", "-", "--print"}).error,
              "-w - writes the recording to standard output: --print needs -o FILE");
    EXPECT_EQ(parse({"-w", "-", "--rotate-size", "1M"}).error,
              "-w - writes standard output, which does not rotate: --rotate-size and -G need -w FILE");
    EXPECT_EQ(parse({"-w", "-", "-G", "60"}).error,
              "-w - writes standard output, which does not rotate: --rotate-size and -G need -w FILE");
}

TEST(Cli, CommandAfterDoubleDash) {
    Cli c = parse({"-e", "mq_open", "--", "prog", "-e", "--", "x"});
    ASSERT_EQ(c.error, "");
    EXPECT_EQ(c.trace.command, (std::vector<std::string>{"prog", "-e", "--", "x"}));
    EXPECT_EQ(c.trace.events, (std::vector<int>{ev("mq_open")}));
    EXPECT_EQ(parse({"--"}).error, "'--' must be followed by a command to run");
    EXPECT_EQ(parse({"prog"}).error,
              "a command to trace goes after '--': mqtrace [OPTIONS] -- COMMAND [ARGS]");
    EXPECT_EQ(parse({"-p", "1", "--", "prog"}).error,
              "a command is traced with what it creates: -p and -t do not go with it");
    EXPECT_EQ(parse({"-r", "f", "--", "prog"}).error, "-r reads a recording: it runs no command");
    EXPECT_EQ(parse({"--dry-run", "--", "prog"}).error,
              "--dry-run runs nothing: it does not go with a command");
    EXPECT_NE(parse({"--list", "--", "prog"}).error, "");
    EXPECT_NE(parse({"--json-schema", "--", "prog"}).error, "");
}

TEST(Cli, JsonSchemaIsAnActionOfItsOwn) {
    const Cli c = parse({"--json-schema"});
    EXPECT_EQ(c.error, "");
    EXPECT_EQ(c.action, Action::JsonSchema);
    EXPECT_EQ(parse({"--help", "--json-schema"}).action, Action::Help);
}

// --rotate-size, -W, -G (tcpdump's -C, -W, -G; mqtrace's -C is strace's).
TEST(Cli, RotationOptions) {
    auto size = [](const std::string& v) { return parse({"-o", "f", "--rotate-size", v}); };
    EXPECT_EQ(size("10").trace.rotate.size, 10000000u); // millions of bytes, as tcpdump
    EXPECT_EQ(size("1").trace.rotate.size, 1000000u);
    EXPECT_EQ(size("500k").trace.rotate.size, 512000u);
    EXPECT_EQ(size("3K").trace.rotate.size, 3072u);
    EXPECT_EQ(size("2M").trace.rotate.size, 2097152u);
    EXPECT_EQ(size("2m").trace.rotate.size, 2097152u);
    EXPECT_EQ(size("1G").trace.rotate.size, 1073741824u);
    EXPECT_EQ(size("1g").trace.rotate.size, 1073741824u);
    EXPECT_EQ(size("10").error, "");
    for (const char* bad : {"0", "0k", "", "k", "1.5", "10MB", "-5", "+5", "5T", " 5", "0x10"})
        EXPECT_EQ(size(bad).error, std::string("--rotate-size takes a positive whole number of millions of "
                                               "bytes, or of KiB, MiB or GiB with the suffix k, M or G (as "
                                               "tcpdump's -C), not '") +
                                       bad + "'")
            << bad;
    EXPECT_EQ(size("4611686018427").error, "");
    EXPECT_EQ(size("4611686018428").error, "--rotate-size: '4611686018428' is too large");
    EXPECT_EQ(size("99999999999999999999999").error.substr(0, 43),
              "--rotate-size takes a positive whole number");
    Cli c = parse({"-w", "rec", "--rotate-size", "5", "-W", "10", "-G", "60", "--utc"});
    ASSERT_EQ(c.error, "");
    EXPECT_EQ(c.trace.rotate.size, 5000000u);
    EXPECT_EQ(c.trace.rotate.count, 10u);
    EXPECT_EQ(c.trace.rotate.seconds, 60u);
    EXPECT_TRUE(c.trace.rotate.utc);
    EXPECT_EQ(parse({"-o", "f", "--rotate-count=3", "--rotate-seconds=1"}).trace.rotate.count, 3u);
    EXPECT_FALSE(parse({"-o", "f"}).trace.rotate.active());
    EXPECT_EQ(parse({"-o", "f", "-C", "--rotate-size", "1"}).trace.summary, SummaryMode::WithEvents);
    EXPECT_EQ(parse({"-r", "rec", "-o", "f", "--rotate-size", "1", "-W", "2"}).error, "");
    EXPECT_EQ(parse({"-w", "rec", "--print", "-o", "f", "-G", "1"}).error, "");
    // -f perfetto: one trace file.
    EXPECT_EQ(parse({"-f", "perfetto", "-o", "t.json"}).trace.fmt.format, OutputFormat::Perfetto);
    EXPECT_EQ(parse({"-r", "rec", "-f", "perfetto"}).error, "");
    for (const auto& extra : std::vector<std::vector<std::string>>{
             {"-c"}, {"-C"}, {"-o", "f", "--rotate-size", "1"}, {"-o", "f", "-G", "1"}}) {
        std::vector<std::string> args{"-f", "perfetto"};
        args.insert(args.end(), extra.begin(), extra.end());
        EXPECT_EQ(parse(args).error,
                  "-f perfetto writes one trace file: -c, -C, --rotate-size and -G do not go with it")
            << extra[0];
    }
    // Usage errors.
    EXPECT_EQ(parse({"--rotate-size", "1"}).error,
              "--rotate-size and -G rotate the files of -o and -w: give -o FILE or -w FILE");
    EXPECT_EQ(parse({"-G", "1", "-f", "json"}).error,
              "--rotate-size and -G rotate the files of -o and -w: give -o FILE or -w FILE");
    EXPECT_EQ(parse({"-o", "f", "-W", "3"}).error,
              "-W goes with --rotate-size or -G: it numbers the files they start");
    EXPECT_EQ(parse({"-o", "f", "-G", "1", "-W", "0"}).error,
              "-W must be a number of files from 1 to 1000000");
    EXPECT_EQ(parse({"-o", "f", "-G", "1", "-W", "1000001"}).error,
              "-W must be a number of files from 1 to 1000000");
    EXPECT_EQ(parse({"-o", "f", "-G", "0"}).error,
              "-G must be a whole number of seconds from 1 to 100000000");
    EXPECT_EQ(parse({"-o", "f", "-G", "-3"}).error,
              "-G must be a whole number of seconds from 1 to 100000000");
    EXPECT_NE(parse({"-o", "f", "-G", "1.5"}).error, ""); // not a whole number
    EXPECT_NE(parse({"-o", "f", "-W", "x", "-G", "1"}).error, "");
    EXPECT_EQ(parse({"-r", "rec", "-o", "f", "-G", "1"}).error,
              "-G starts new files while tracing: it does not go with -r (--rotate-size does)");
}

TEST(Rotation, FileNamesAsTcpdumpNamesThem) {
    auto names = [](const std::string& file, RotateOptions o, int n, std::time_t t = 0) {
        FileNames f(file, o);
        std::vector<std::string> out;
        for (int i = 0; i < n; ++i)
            out.push_back(f.next(t));
        return out;
    };
    using V = std::vector<std::string>;
    RotateOptions size;
    size.size = 1;
    EXPECT_EQ(names("calls.txt", size, 4), (V{"calls.txt", "calls.txt1", "calls.txt2", "calls.txt3"}));
    RotateOptions ring = size;
    ring.count = 3;
    EXPECT_EQ(names("r", ring, 5), (V{"r0", "r1", "r2", "r0", "r1"}));
    ring.count = 1;
    EXPECT_EQ(names("r", ring, 2), (V{"r", "r"}));
    ring.count = 10;
    EXPECT_EQ(names("r", ring, 11).back(), "r0");
    ring.count = 11;
    EXPECT_EQ(names("r", ring, 12),
              (V{"r00", "r01", "r02", "r03", "r04", "r05", "r06", "r07", "r08", "r09", "r10", "r00"}));
    ring.count = 100;
    EXPECT_EQ(names("r", ring, 1), V{"r00"});
    ring.count = 101;
    EXPECT_EQ(names("r", ring, 1), V{"r000"});
    // Without -G a '%' is a character; with it strftime(3) names each file
    // when it is opened, and a name seen just before gets a number.
    EXPECT_EQ(names("a-%H", size, 2), (V{"a-%H", "a-%H1"}));
    RotateOptions timed;
    timed.seconds = 1;
    timed.utc = true;
    FileNames f("x-%Y%m%d-%H%M%S.json", timed);
    EXPECT_EQ(f.next(0), "x-19700101-000000.json");
    EXPECT_EQ(f.next(0), "x-19700101-000000.json1");
    EXPECT_EQ(f.next(1), "x-19700101-000001.json");
    EXPECT_EQ(f.next(3661), "x-19700101-010101.json");
    EXPECT_EQ(f.first(), "x-19700101-000000.json");
    EXPECT_EQ(f.current(), "x-19700101-010101.json");
    EXPECT_EQ(f.opened(), 4u);
    timed.count = 2; // the count starts again with each name
    FileNames g("y-%S", timed);
    EXPECT_EQ(g.next(0), "y-000");
    EXPECT_EQ(g.next(0), "y-001");
    EXPECT_EQ(g.next(0), "y-000");
    EXPECT_EQ(g.next(5), "y-050");
    EXPECT_EQ(names("plain", timed, 3), (V{"plain0", "plain1", "plain0"}));
}

TEST(Filter, KernelExpressionsPerProbe) {
    const int open = ev("mq_open");
    const Probe entry = probe(Role::Entry, "sys_enter_mq_open", open);
    const Probe ret = probe(Role::Return, "sys_exit_mq_open", open);
    const Probe task = probe(Role::TaskNew, "task_newtask", -1);
    Selection s;
    EXPECT_EQ(kernel_filter(s, entry, kernel(6, 18), 77), "");
    s.failed = true;
    EXPECT_EQ(kernel_filter(s, entry, kernel(6, 18), 77), "");
    EXPECT_EQ(kernel_filter(s, ret, kernel(6, 18), 77), "(ret < 0) || common_pid == 77");
    s.comm = "app";
    EXPECT_EQ(kernel_filter(s, entry, kernel(6, 18), 77), "(comm == \"app\") || common_pid == 77");
    EXPECT_EQ(kernel_filter(s, ret, kernel(6, 18), 77), "((comm == \"app\") && ret < 0) || common_pid == 77");
    EXPECT_EQ(kernel_filter(s, task, kernel(6, 18), 77), ""); // task events feed attribution
    // 4.1 has no "comm" filter field: only the return filter; the name is checked in user space.
    EXPECT_EQ(kernel_filter(s, entry, kernel(4, 1), 77), "");
    EXPECT_EQ(kernel_filter(s, ret, kernel(4, 1), 77), "(ret < 0) || common_pid == 77");
    EXPECT_TRUE(comm_in_kernel(s, kernel(4, 2)));
    EXPECT_FALSE(comm_in_kernel(s, kernel(3, 10)));
    s.comm = "a\"b"; // cannot be written in a filter string
    EXPECT_FALSE(comm_in_kernel(s, kernel(6, 18)));
}

TEST(Filter, WhatUserSpaceChecks) {
    Selection s;
    s.pids = {10};
    s.comm = "app";
    s.failed = true;
    // The kernel did pids and comm: only -x is left.
    const CallFilter live(s, true, true);
    EXPECT_TRUE(live.active());
    EXPECT_TRUE(live.keep(call("mq_open", -EEXIST, 10, 99, "other")));
    EXPECT_FALSE(live.keep(call("mq_open", 3, 10)));
    Call blocked = call("mq_timedreceive", 0, 0);
    blocked.end = CallEnd::TraceEnded; // never returned: not a failed call
    EXPECT_FALSE(live.keep(blocked));
    Call no_entry = call("msgrcv", -ENOMSG, 0);
    no_entry.end = CallEnd::EntryNotSeen;
    EXPECT_TRUE(live.keep(no_entry));
    // A recording (-r): everything in user space.
    const CallFilter rec(s, false, false);
    EXPECT_TRUE(rec.keep(call("mq_open", -EEXIST, 10, 10, "app")));
    EXPECT_FALSE(rec.keep(call("mq_open", -EEXIST, 10, 11, "app")));
    EXPECT_FALSE(rec.keep(call("mq_open", -EEXIST, 10, 10, "app2")));
    Selection none;
    EXPECT_FALSE(CallFilter(none, false, false).active());
    Selection tid;
    tid.tids = {11};
    EXPECT_TRUE(CallFilter(tid, false, false).keep(call("msgget", 1, 1, 11)));
    EXPECT_FALSE(CallFilter(tid, false, false).keep(call("msgget", 1, 1, 12)));
}

// -c per queue: the calls that name a queue, by the queue (descriptor
// context for POSIX, the identifier for System V): messages and bytes each
// way, errors, senders and receivers.
TEST(Summary, PerQueue) {
    Summary s({ev("mq_timedsend"), ev("mq_timedreceive"), ev("msgsnd"), ev("msgrcv"), ev("msgctl")}, false);
    auto on = [](Call c, std::int64_t ref, std::int64_t len, QueueCtx q) {
        c.args[0].present = true;
        c.args[0].raw = ref;
        if (len >= 0) {
            const EventSpec& e = catalog()[static_cast<std::size_t>(c.ev)];
            if (!e.body.len_arg.empty()) {
                auto& a = c.args[static_cast<std::size_t>(arg_index(e, e.body.len_arg))];
                a.present = true;
                a.raw = len;
            }
        }
        c.queue = std::move(q);
        return Item{true, std::move(c), {}};
    };
    const QueueCtx jobs{QueueSource::MqOpen, std::make_shared<const std::string>("/jobs"), 0},
        jobs_gone{QueueSource::ProcFd, std::make_shared<const std::string>("/jobs (deleted)"), 0};
    s.add(on(call("mq_timedsend", 0, 1, 10, "prod"), 3, 5, jobs));
    s.add(on(call("mq_timedsend", 0, 1, 10, "prod"), 3, 7, jobs));
    s.add(on(call("mq_timedsend", -EAGAIN, 1, 10, "prod"), 3, 9, jobs));
    s.add(on(call("mq_timedreceive", 5, 1, 20, "cons"), 4, -1, jobs_gone));
    s.add(on(call("mq_timedreceive", 7, 1, 20, "cons"), 4, -1, {})); // queue not known
    s.add(on(call("msgsnd", 0, 1, 10, "prod"), 65536, 3, {}));       // key not known yet
    s.add(on(call("msgrcv", 3, 1, 30, "c2"), 65536, -1, {QueueSource::Msgget, nullptr, 0x1234}));
    s.add(on(call("msgctl", 0, 1, 30, "c2"), 65536, -1, {QueueSource::Msgget, nullptr, 0x1234}));
    s.add(on(call("msgsnd", -EINVAL, 1, 10, "prod"), -1, 3, {})); // no queue
    ASSERT_EQ(s.queues().size(), 2u);
    const auto& p = s.queues().at(Summary::QueueId{false, "/jobs", 0});
    EXPECT_EQ(p.calls, 4u);
    EXPECT_EQ(p.sent, 2u);
    EXPECT_EQ(p.bytes_sent, 12u);
    EXPECT_EQ(p.received, 1u);
    EXPECT_EQ(p.bytes_received, 5u);
    EXPECT_EQ(p.errnos.at(EAGAIN), 1u);
    EXPECT_EQ(p.senders.at({10, "prod"}), 2u);
    EXPECT_EQ(p.receivers.at({20, "cons"}), 1u);
    EXPECT_EQ(s.queue_calls_unknown(), 2u);
    const testjson::Value j = testjson::Parser(s.json()).parse();
    ASSERT_EQ(j["queues"].items.size(), 2u);
    const testjson::Value& q0 = j["queues"].items[0];
    EXPECT_EQ(q0["kind"].s(), "posix");
    EXPECT_EQ(q0["name"].s(), "/jobs");
    EXPECT_EQ(q0["bytes_sent"].i(), 12);
    EXPECT_EQ(q0["senders"].items[0]["comm"].s(), "prod");
    EXPECT_EQ(q0["senders"].items[0]["messages"].i(), 2);
    EXPECT_EQ(q0["errnos"]["EAGAIN"].i(), 1);
    const testjson::Value& q1 = j["queues"].items[1];
    EXPECT_EQ(q1["kind"].s(), "sysv");
    EXPECT_EQ(q1["msqid"].i(), 65536);
    EXPECT_EQ(q1["key"].i(), 0x1234);
    EXPECT_EQ(q1["calls"].i(), 3);
    EXPECT_EQ(q1["sent"].i(), 1);
    EXPECT_EQ(q1["received"].i(), 1);
    EXPECT_EQ(q1["receivers"].items[0]["pid"].i(), 30);
    EXPECT_EQ(j["queue_calls_unknown"].i(), 2);
    const std::string t = s.text();
    EXPECT_NE(
        t.find("posix /jobs                               2          1           12            5        1\n"
               "  EAGAIN"),
        std::string::npos)
        << t;
    EXPECT_NE(t.find("  senders: 10 (prod) 2\n  receivers: 20 (cons) 1\n"), std::string::npos) << t;
    EXPECT_NE(t.find("sysv msqid 65536 key 0x1234"), std::string::npos) << t;
    EXPECT_NE(t.find("calls on a queue not known: 2\n"), std::string::npos) << t;
}

// --flows per queue: receives linked, ambiguous, unknown; the linked ones'
// time in queue; the most messages the queue held as the model had them.
TEST(Summary, PerQueueFlows) {
    Summary s({ev("mq_timedsend"), ev("mq_timedreceive")}, false);
    const QueueCtx jobs{QueueSource::MqOpen, std::make_shared<const std::string>("/jobs"), 0};
    auto on = [&](Call c, Link l, std::uint64_t queued, std::int64_t depth) {
        c.args[0].present = true;
        c.args[0].raw = 3;
        c.queue = jobs;
        c.flow.link = l;
        c.flow.queued_ns = queued;
        c.flow.depth = depth;
        return Item{true, std::move(c), {}};
    };
    s.add(on(call("mq_timedsend", 0, 1, 10, "prod"), Link::Sent, 0, 1));
    s.add(on(call("mq_timedsend", 0, 1, 10, "prod"), Link::Sent, 0, 2));
    s.add(on(call("mq_timedreceive", 5, 1, 20, "cons"), Link::Order, 3000, 1));
    s.add(on(call("mq_timedreceive", 5, 1, 20, "cons"), Link::Content, 9000, 0));
    s.add(on(call("mq_timedreceive", 5, 1, 20, "cons"), Link::Ambiguous, 0, -1));
    s.add(on(call("mq_timedreceive", 5, 1, 20, "cons"), Link::Unknown, 0, -1));
    const auto& q = s.queues().at(Summary::QueueId{false, "/jobs", 0});
    EXPECT_EQ(q.linked, 2u);
    EXPECT_EQ(q.ambiguous, 1u);
    EXPECT_EQ(q.unknown, 1u);
    EXPECT_EQ(q.depth_max, 2);
    const testjson::Value j = testjson::Parser(s.json()).parse()["queues"].items.at(0);
    EXPECT_EQ(j["links"]["linked"].i(), 2);
    EXPECT_EQ(j["links"]["ambiguous"].i(), 1);
    EXPECT_EQ(j["links"]["unknown"].i(), 1);
    EXPECT_EQ(j["queued_ns"]["min"].i(), 3000);
    EXPECT_EQ(j["queued_ns"]["max"].i(), 9000);
    EXPECT_EQ(j["queued_ns"]["timed"].i(), 2);
    EXPECT_EQ(j["depth_max"].i(), 2);
    const std::string t = s.text();
    EXPECT_NE(t.find("  linked 2 (ambiguous 1, unknown 1), queued min/median/p99/max (us) 3.000/"),
              std::string::npos)
        << t;
    EXPECT_NE(t.find("/9.000, depth max 2\n"), std::string::npos) << t;
    // Without --flows: none of it.
    Summary off({ev("mq_timedsend")}, false);
    off.add(on(call("mq_timedsend", 0, 1, 10, "prod"), Link::None, 0, -1));
    EXPECT_FALSE(testjson::Parser(off.json()).parse()["queues"].items.at(0).has("links"));
}

// Depth at start: read before tracing (mqueue file system, /proc/sysvipc/msg),
// shown for a queue only when its calls come from the namespace it was read in.
TEST(Summary, DepthAtStartOfTheQueuesOfItsNamespace) {
    EXPECT_EQ(parse_mqueue_qsize("QSIZE:10         NOTIFY:0     SIGNO:0     NOTIFY_PID:0     \n"), 10);
    EXPECT_EQ(parse_mqueue_qsize("QSIZE:0 NOTIFY:2"), 0);
    EXPECT_EQ(parse_mqueue_qsize("NOTIFY:0"), -1);
    EXPECT_EQ(parse_mqueue_qsize("QSIZE:x"), -1);
    std::map<std::int64_t, StartDepth> sysv;
    parse_sysvipc_msg(
        "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      "
        "stime      rtime      ctime\n"
        "         0     520749 600            10          2 19155     0     0     0     0     0 "
        "1796304706          0 1796304704\n"
        "1836187648          7 644             0          0     0     0     0     0     0     0 "
        "0          0 1796304704\n"
        "garbage\n",
        sysv);
    ASSERT_EQ(sysv.size(), 2u);
    EXPECT_EQ(sysv.at(520749).messages, 2);
    EXPECT_EQ(sysv.at(520749).bytes, 10);
    EXPECT_EQ(sysv.at(7).messages, 0);

    Summary s({ev("mq_timedsend"), ev("msgsnd")}, false);
    StartDepths d;
    d.ns = 4026531839;
    d.posix["/jobs"] = StartDepth{3, 10};
    d.sysv = sysv;
    s.start_depths(d);
    auto on = [&](const char* event, std::int64_t ref, const char* name, std::uint64_t ns) {
        Call c = call(event, 0, 1, 10, "prod");
        c.args[0].present = true;
        c.args[0].raw = ref;
        if (name) c.queue = QueueCtx{QueueSource::MqOpen, std::make_shared<const std::string>(name), 0};
        c.queue.ns = ns;
        return Item{true, std::move(c), {}};
    };
    s.add(on("mq_timedsend", 3, "/jobs", d.ns));
    s.add(on("mq_timedsend", 3, "/other", d.ns)); // created since
    s.add(on("msgsnd", 520749, nullptr, 77));     // another namespace: its own 520749
    s.add(on("msgsnd", 7, nullptr, d.ns));
    EXPECT_EQ(s.queues().at(Summary::QueueId{false, "/jobs", 0}).at_start.messages, 3);
    const testjson::Value j = testjson::Parser(s.json()).parse()["queues"];
    std::map<std::string, const testjson::Value*> by;
    for (const auto& q : j.items)
        by[q["kind"].s() == "posix" ? q["name"].s() : std::to_string(q["msqid"].i())] = &q;
    ASSERT_EQ(by.size(), 4u);
    EXPECT_EQ((*by["/jobs"])["depth_start"]["messages"].i(), 3);
    EXPECT_EQ((*by["/jobs"])["depth_start"]["bytes"].i(), 10);
    EXPECT_TRUE((*by["/other"])["depth_start"].is_null());
    EXPECT_TRUE((*by["520749"])["depth_start"].is_null());
    EXPECT_EQ((*by["7"])["depth_start"]["messages"].i(), 0);
    EXPECT_NE(s.text().find("  at start: 3 messages, 10 bytes\n"), std::string::npos) << s.text();
}

TEST(Summary, CountsErrorsAndLatencies) {
    Summary s({ev("mq_open"), ev("msgget")}, true);
    for (int i = 1; i <= 1000; ++i)
        s.add(Item{true, call("mq_open", 3, static_cast<std::uint64_t>(i) * 1000), {}});
    s.add(Item{true, call("mq_open", -EEXIST, 5000, 11, "b"), {}});
    s.add(Item{true, call("mq_open", -EEXIST, 7000, 11, "b"), {}});
    s.add(Item{true, call("mq_open", -ENOENT, 9000), {}});
    for (int i = 0; i < 2; ++i) { // the kernel's copy of the name differed from the caller's at entry
        Call raced = call("mq_open", 3, 1000);
        raced.args[0].verify = Verify::Mismatch;
        raced.args[3].verify = Verify::Mismatch; // one call, however many of its arguments
        s.add(Item{true, raced, {}});
    }
    Call unfinished = call("msgget", 0, 0);
    unfinished.end = CallEnd::TraceEnded;
    s.add(Item{true, unfinished, {}});
    s.add(Item{false, {}, LostNotice{1, 0, 12, "ring buffer"}});
    s.add(Item{false, {}, LostNotice{1, 0, -1, "ring buffer"}});
    const auto& o = s.of(ev("mq_open"));
    EXPECT_EQ(o.calls, 1005u);
    EXPECT_EQ(o.errors, 3u);
    EXPECT_EQ(o.toctou_mismatches, 2u);
    EXPECT_EQ(o.errnos.at(EEXIST), 2u);
    EXPECT_EQ(o.errnos.at(ENOENT), 1u);
    EXPECT_EQ(o.min_ns, 1000u);
    EXPECT_EQ(o.max_ns, 1000000u);
    // 1005 timed values: the median is the 503rd (~500 us), p99 the 995th (~990 us), within 1.6 %.
    EXPECT_NEAR(static_cast<double>(o.quantile(0.5)), 497000.0, 497000 * 0.016);
    EXPECT_NEAR(static_cast<double>(o.quantile(0.99)), 990000.0, 990000 * 0.016);
    EXPECT_EQ(s.of(ev("msgget")).calls, 1u);
    EXPECT_EQ(s.of(ev("msgget")).timed, 0u);
    EXPECT_EQ(s.lost(), 12u);

    const testjson::Value j = testjson::Parser(s.json()).parse();
    EXPECT_EQ(j["event"].s(), "summary");
    EXPECT_EQ(j["events"].fields.size(), 2u);
    EXPECT_EQ(j["events"]["mq_open"]["calls"].i(), 1005);
    EXPECT_EQ(j["events"]["mq_open"]["toctou_mismatches"].i(), 2);
    EXPECT_FALSE(j["events"]["msgget"].has("toctou_mismatches"));
    EXPECT_EQ(j["events"]["mq_open"]["errors"].i(), 3);
    EXPECT_EQ(j["events"]["mq_open"]["errnos"]["EEXIST"].i(), 2);
    EXPECT_EQ(j["events"]["mq_open"]["latency_ns"]["min"].i(), 1000);
    EXPECT_EQ(j["events"]["mq_open"]["latency_ns"]["max"].i(), 1000000);
    EXPECT_TRUE(j["events"]["msgget"]["latency_ns"].is_null());
    EXPECT_EQ(j["lost"].i(), 12);
    EXPECT_EQ(j["lost_unknown"].i(), 1);
    ASSERT_EQ(j["processes"].items.size(), 2u);
    EXPECT_EQ(j["processes"].items[0]["pid"].i(), 10);
    EXPECT_EQ(j["processes"].items[0]["events"]["mq_open"]["calls"].i(), 1003);
    EXPECT_EQ(j["processes"].items[1]["comm"].s(), "b");
    EXPECT_EQ(j["processes"].items[1]["events"]["mq_open"]["errnos"]["EEXIST"].i(), 2);

    const std::string t = s.text();
    EXPECT_NE(t.find("mq_open                1005        3       1.000"), std::string::npos) << t;
    EXPECT_NE(t.find("  EEXIST                           2\n"), std::string::npos) << t;
    EXPECT_NE(t.find("  TOCTOU mismatch          2\n"), std::string::npos) << t;
    EXPECT_NE(t.find("msgget                    1        0           -"), std::string::npos) << t;
    EXPECT_NE(t.find("\nprocess 11 (b)\n"), std::string::npos) << t;
    EXPECT_NE(t.find("lost events: 12 and 1 records of unknown count"), std::string::npos) << t;
}

TEST(Times, RelativeAndIso) {
    Call c = call("msgget", 7, 1000);
    FormatOptions f;
    f.utc = true;
    f.clock_offset_ns = 1764686609000000000 - 5000000000; // c.ts is 2025-12-02T14:43:29Z
    f.time = TimeMode::Iso;
    const Item it{true, c, {}};
    EXPECT_EQ(format_item(it, f).substr(0, 33), "2025-12-02T14:43:29.000000Z      ");
    f.format = OutputFormat::Json;
    const testjson::Value j = testjson::Parser(format_item(it, f)).parse();
    EXPECT_EQ(j["time"].s(), "2025-12-02T14:43:29.000000000Z");
    EXPECT_EQ(j["time_ns"].i(), 1764686609000000000);
    f.time = TimeMode::Relative;
    f.start_ts = c.ts - 1500000;
    EXPECT_EQ(testjson::Parser(format_item(it, f)).parse()["rel_ns"].i(), 1500000);
    f.format = OutputFormat::Text;
    EXPECT_EQ(format_item(it, f).substr(0, 16), "0.001500        ");
    f.time = TimeMode::Wall;
    EXPECT_EQ(format_item(it, f).substr(0, 16), "14:43:29.000000 ");
    EXPECT_EQ(text_header(f).substr(0, 20), "TIME            PID ");
}

namespace {

// A newer kernel's sys_enter_mq_unlink, which carries the name itself, its
// exit, and the libc-wrapper uprobe of the syscalls backend.
std::vector<Probe> carried_name_probes() {
    const int e = ev("mq_unlink");
    Field ptr;
    ptr.key = "name";
    ptr.pos = 0;
    Field val;
    val.name = "__u_name_val";
    val.key = "name$str";
    val.src = Source::UserAtEntry;
    Probe entry{ProbeKind::Tracepoint, "syscalls", "sys_enter_mq_unlink", "", {ptr, val}, Role::Entry, e};
    Probe ret = probe(Role::Return, "sys_exit_mq_unlink", e);
    Field wptr;
    wptr.key = "@name";
    Field wstr;
    wstr.key = "@name$str";
    wstr.src = Source::UserAtEntry;
    Probe wrapper{ProbeKind::Uprobe, "g", "mq_unlink_libc0", "/libc.so.6:0x1", {wptr, wstr},
                  Role::Wrapper,     e};
    return {entry, ret, wrapper};
}

Record rec(int probe, std::uint64_t ts, std::vector<FieldValue> values) {
    Record r;
    r.ts = ts;
    r.tid = 5;
    r.probe = probe;
    r.values = std::move(values);
    return r;
}

FieldValue num_value(std::int64_t v) {
    FieldValue f;
    f.num = v;
    return f;
}

FieldValue str_value(const std::string& s) {
    FieldValue f;
    f.str = s;
    f.is_str = true;
    return f;
}

} // namespace

// The name a newer kernel's event carries had its unprintable bytes turned
// into '.' and is cut at syscall_user_buf_size: never shown as exact when it
// may have been altered, and replaced by the libc wrapper's exact read.
TEST(CarriedStrings, MaybeAlteredCopiesAreMarkedAndReplacedByExactReads) {
    TaskTable tasks(false);
    Correlator c(carried_name_probes(), tasks);
    std::vector<Item> items;
    c.feed(rec(0, 1, {num_value(0x1000), str_value("plain")}), items);
    c.feed(rec(1, 2, {num_value(0)}), items);
    c.feed(rec(0, 3, {num_value(0x1000), str_value("a.b")}), items);
    c.feed(rec(1, 4, {num_value(0)}), items);
    // glibc passes name + 1: the wrapper read "/a\x01b" at 0x1fff.
    c.feed(rec(2, 5,
               {num_value(0x1fff), str_value(std::string("/a\x01"
                                                         "b",
                                                         4))}),
           items);
    c.feed(rec(0, 6, {num_value(0x2000), str_value("a.b")}), items);
    c.feed(rec(1, 7, {num_value(0)}), items);
    ASSERT_EQ(items.size(), 3u);
    const ArgValue& exact = items[0].call.args[0];
    EXPECT_EQ(exact.str, "plain");
    EXPECT_FALSE(exact.lossy);
    const ArgValue& lossy = items[1].call.args[0];
    EXPECT_EQ(lossy.str, "a.b");
    EXPECT_TRUE(lossy.lossy);
    FormatOptions f;
    EXPECT_NE(format_item(items[1], f).find("name=\"a.b\"(lossy)"), std::string::npos)
        << format_item(items[1], f);
    f.format = OutputFormat::Json;
    const testjson::Value j = testjson::Parser(format_item(items[1], f)).parse();
    EXPECT_EQ(j["args"]["name"].s(), "a.b");
    EXPECT_TRUE(j["arg_info"]["name"]["lossy"].b);
    const ArgValue& replaced = items[2].call.args[0];
    EXPECT_EQ(replaced.str, std::string("a\x01"
                                        "b",
                                        3));
    EXPECT_FALSE(replaced.lossy);
    EXPECT_FALSE(testjson::Parser(format_item(items[2], f)).parse()["arg_info"]["name"].has("lossy"));
}
