// QueueContext (descriptor context) against a fake /proc: what it learns from
// the calls, what /proc confirms or contradicts, and what it forgets.
#include "mqtrace/catalog.hpp"
#include "mqtrace/context.hpp"
#include "mqtrace/format.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <string>
#include <vector>

using namespace mqtrace;

namespace {

struct FakeProc final : ProcView {
    std::map<std::pair<int, int>, std::string> fds; // what /proc/PID/fd shows now
    std::map<int, std::uint64_t> ns;                // live processes and their IPC namespace
    std::unordered_map<std::int64_t, std::int64_t> sysv;
    int fd_asks = 0, sysv_reads = 0;
    Fd fd(int pid, int fd, std::string& name) override {
        ++fd_asks;
        if (!ns.count(pid)) return Fd::Gone;
        auto f = fds.find({pid, fd});
        if (f == fds.end()) return Fd::Gone;
        if (f->second.empty()) return Fd::NotQueue;
        name = f->second;
        return Fd::Queue;
    }
    std::uint64_t ipc_ns(int pid) override { return ns.count(pid) ? ns[pid] : 0; }
    std::uint64_t own_ipc_ns() override { return 7; }
    void sysv_keys(std::unordered_map<std::int64_t, std::int64_t>& out) override {
        ++sysv_reads;
        out = sysv;
    }
};

Item call(const char* event, int pid, std::int64_t ret, std::vector<std::int64_t> raw,
          const char* name = nullptr) {
    Item it;
    Call& c = it.call;
    const EventSpec& ev = *find_event(event);
    c.ev = event_index(ev);
    c.pid = c.tid = pid;
    c.end = CallEnd::Returned;
    c.ret = ret;
    c.args.resize(ev.args.size());
    for (std::size_t i = 0; i < raw.size(); ++i) {
        c.args[i].present = true;
        c.args[i].raw = raw[i];
    }
    if (name) {
        c.args[0].content = Content::Str;
        c.args[0].str = name;
        c.args[0].src = Source::UserAtEntry;
    }
    return it;
}
Item lost() {
    Item it;
    it.is_call = false;
    it.lost.count = 5;
    return it;
}
std::string ctx(const Item& it) {
    const QueueCtx& q = it.call.queue;
    if (q.src == QueueSource::None) return "-";
    return std::string(queue_source_name(q.src)) + ":" + (q.path ? *q.path : std::to_string(q.key));
}

} // namespace

TEST(QueueContext, NamesFromMqOpenConfirmedByProc) {
    FakeProc p;
    p.ns[10] = 7;
    p.fds[{10, 3}] = "/q";
    QueueContext qc(p);
    std::vector<Item> v{call("mq_open", 10, 3, {1, 0102}, "q"), call("mq_timedsend", 10, 0, {3, 0, 1, 0}),
                        call("mq_timedsend", 10, -EBADF, {4, 0, 1, 0}),
                        call("mq_timedsend", 10, -EAGAIN, {3})};
    qc.annotate(v);
    EXPECT_EQ(ctx(v[0]), "-");
    EXPECT_EQ(ctx(v[1]), "mq_open:/q");
    EXPECT_EQ(ctx(v[2]), "-") << "EBADF: no queue";
    EXPECT_EQ(ctx(v[3]), "mq_open:/q") << "a call that failed otherwise still named its queue";
    EXPECT_EQ(p.fd_asks, 1) << "once per (process, descriptor) per round; not for EBADF";
    // Unlinked since: /proc says "(deleted)", still the same queue.
    p.fds[{10, 3}] = "/q (deleted)";
    std::vector<Item> w{call("mq_timedreceive", 10, 1, {3})};
    qc.annotate(w);
    EXPECT_EQ(ctx(w[0]), "mq_open:/q");
}

// A round handed on in chunks (CallStages) asks /proc once per descriptor:
// its calls were all made before the round was read. The next round asks again.
TEST(QueueContext, ProcAskedOncePerRoundAcrossItsChunks) {
    FakeProc p;
    p.ns[10] = 7;
    p.fds[{10, 3}] = "/q";
    QueueContext qc(p);
    std::vector<Item> a{call("mq_timedsend", 10, 0, {3, 0, 1, 0})};
    std::vector<Item> b{call("mq_timedreceive", 10, 1, {3})};
    qc.annotate(a, true);
    qc.annotate(b, false);
    EXPECT_EQ(ctx(a[0]), "proc-fd:/q");
    EXPECT_EQ(ctx(b[0]), "proc-fd:/q");
    EXPECT_EQ(p.fd_asks, 1);
    p.fds[{10, 3}] = "/other"; // now another queue: the next round sees it
    std::vector<Item> c{call("mq_timedsend", 10, 0, {3, 0, 1, 0})};
    qc.annotate(c, true);
    EXPECT_EQ(p.fd_asks, 2);
    EXPECT_EQ(ctx(c[0]), "proc-fd:/other");
}

TEST(QueueContext, ReusedUnseenGivesNoName) {
    FakeProc p;
    p.ns[10] = 7;
    p.fds[{10, 3}] = "/other"; // dup2 over it after mq_open
    QueueContext qc(p);
    std::vector<Item> v{call("mq_open", 10, 3, {1, 2}, "q"), call("mq_timedsend", 10, 0, {3})};
    qc.annotate(v);
    EXPECT_EQ(ctx(v[1]), "-") << "neither the learned name nor what /proc shows after the call";
    std::vector<Item> w{call("mq_timedsend", 10, 0, {3})};
    qc.annotate(w);
    EXPECT_EQ(ctx(w[0]), "-") << "its record may predate the reuse: not /proc's /other either";
    // A number reused by mq_open in the same round: the new name from then on.
    p.fds[{10, 3}] = "/new";
    std::vector<Item> x{call("mq_timedsend", 10, 0, {3}), call("mq_open", 10, 3, {1, 2}, "new"),
                        call("mq_timedsend", 10, 0, {3})};
    qc.annotate(x);
    EXPECT_EQ(ctx(x[0]), "-") << "before the mq_open that reused 3: still unknown";
    EXPECT_EQ(ctx(x[2]), "mq_open:/new");
}

TEST(QueueContext, NotLearnedIsReadFromProcAfterTheCall) {
    FakeProc p;
    p.ns[10] = 7;
    p.fds[{10, 5}] = "/inherited";
    QueueContext qc(p);
    std::vector<Item> v{call("mq_timedsend", 10, 0, {5}), call("mq_open", 10, 5, {1, 2}, "new"),
                        call("mq_timedsend", 10, 0, {5})};
    p.fds[{10, 5}] = "/new";
    qc.annotate(v);
    EXPECT_EQ(ctx(v[0]), "-") << "before the mq_open that returned 5, 5 was another queue: not /proc's /new";
    EXPECT_EQ(ctx(v[2]), "mq_open:/new");
    std::vector<Item> w{call("mq_timedsend", 10, 0, {6})};
    p.fds[{10, 6}] = "/inherited";
    qc.annotate(w);
    EXPECT_EQ(ctx(w[0]), "proc-fd:/inherited");
    // Closed since (the reader is behind): later rounds' records of calls made before keep the name.
    p.fds.erase({10, 5});
    std::vector<Item> x{call("mq_timedsend", 10, 0, {5})}, y{call("mq_timedsend", 10, 0, {5})};
    qc.annotate(x);
    qc.annotate(y);
    EXPECT_EQ(ctx(x[0]), "mq_open:/new");
    EXPECT_EQ(ctx(y[0]), "mq_open:/new");
}

TEST(QueueContext, ExitedProcessKeepsWhatItsCallsTold) {
    FakeProc p; // pid 10 is gone: nothing to ask
    QueueContext qc(p);
    std::vector<Item> v{call("mq_open", 10, 3, {1, 2}, "q"), call("mq_notify", 10, 0, {3, 0}),
                        call("mq_notify", 11, 0, {3, 0})};
    qc.annotate(v);
    EXPECT_EQ(ctx(v[1]), "mq_open:/q");
    EXPECT_EQ(ctx(v[2]), "-") << "another process's descriptor 3";
    // A late (or lossy) name is not learned.
    std::vector<Item> w{call("mq_open", 12, 3, {1, 2}, "q"), call("mq_notify", 12, 0, {3, 0})};
    w[0].call.args[0].src = Source::UserLate;
    qc.annotate(w);
    EXPECT_EQ(ctx(w[1]), "-");
}

TEST(QueueContext, LossForgetsEverything) {
    FakeProc p;
    QueueContext qc(p);
    std::vector<Item> v{call("mq_open", 10, 3, {1, 2}, "q"), call("msgget", 10, 65536, {0x1234, 01600}),
                        lost(), call("mq_notify", 10, 0, {3, 0}), call("msgsnd", 10, 0, {65536, 0, 1, 0})};
    qc.annotate(v);
    EXPECT_EQ(ctx(v[3]), "-");
    EXPECT_EQ(ctx(v[4]), "-");
}

// Records are lost from a lost record's time to the end of its gap (the
// CPU's next record): what a call made inside the gap tells may be undone by
// a lost one after it (descriptor 3 closed and opened again for another
// queue); learned from the gap's end on.
TEST(QueueContext, NothingIsLearnedInsideALossGap) {
    FakeProc p; // no process to ask
    QueueContext qc(p);
    auto at = [](Item it, std::uint64_t ts) {
        it.call.ts = ts;
        it.call.ts_end = ts + 5;
        return it;
    };
    Item loss = lost();
    loss.lost.ts = 100;
    loss.lost.until = 900;
    std::vector<Item> v{loss,
                        at(call("mq_open", 10, 3, {1, 2}, "q"), 200),
                        at(call("msgget", 10, 65536, {0x1234, 01600}), 300),
                        at(call("mq_notify", 10, 0, {3, 0}), 400),
                        at(call("msgsnd", 10, 0, {65536, 0, 1, 0}), 500),
                        at(call("mq_open", 10, 4, {1, 2}, "r"), 1000),
                        at(call("msgget", 10, 98304, {0x4321, 01600}), 1100),
                        at(call("mq_notify", 10, 0, {3, 0}), 1200),
                        at(call("mq_notify", 10, 0, {4, 0}), 1300),
                        at(call("msgsnd", 10, 0, {98304, 0, 1, 0}), 1400)};
    qc.annotate(v);
    EXPECT_EQ(ctx(v[3]), "-") << "opened in the gap";
    EXPECT_EQ(ctx(v[4]), "-") << "made in the gap";
    EXPECT_EQ(v[1].call.queue.id, 0u);
    EXPECT_EQ(v[2].call.queue.id, 0u);
    EXPECT_EQ(ctx(v[7]), "-") << "learned in the gap: not after it either";
    EXPECT_EQ(ctx(v[8]), "mq_open:/r") << "opened after the gap";
    EXPECT_EQ(ctx(v[9]), "msgget:17185") << "made after the gap";
    EXPECT_NE(v[5].call.queue.id, 0u);
    EXPECT_NE(v[6].call.queue.id, 0u);
}

TEST(QueueContext, SysvKeysFromMsggetOrOwnNamespaceUntilRmid) {
    FakeProc p;
    p.ns[10] = 7;  // our IPC namespace
    p.ns[20] = 99; // a container's
    p.sysv[32768] = 0x4242;
    QueueContext qc(p);
    std::vector<Item> v{call("msgget", 10, 65536, {0x1234, 01600}),
                        call("msgsnd", 10, 0, {65536, 0, 1, 0}),
                        call("msgrcv", 20, 1, {65536, 0, 8, 0, 0}),
                        call("msgsnd", 10, 0, {32768, 0, 1, 0}),
                        call("msgsnd", 20, 0, {32768, 0, 1, 0}),
                        call("msgsnd", 10, -EINVAL, {4, 0, 1, 0}),
                        call("msgctl", 10, 0, {65536, 0x100 /* IPC_64|IPC_RMID */, 0}),
                        call("msgsnd", 10, -EIDRM, {65536, 0, 1, 0})};
    qc.annotate(v);
    EXPECT_EQ(ctx(v[1]), "msgget:4660");
    EXPECT_EQ(ctx(v[2]), "-") << "the same number in another IPC namespace";
    EXPECT_EQ(ctx(v[3]), "sysvipc:16962");
    EXPECT_EQ(ctx(v[4]), "-") << "/proc/sysvipc shows our namespace only";
    EXPECT_EQ(ctx(v[5]), "-");
    EXPECT_EQ(ctx(v[6]), "msgget:4660");
    EXPECT_EQ(ctx(v[7]), "-");
    EXPECT_EQ(p.sysv_reads, 1);
    std::vector<Item> w{call("msgsnd", 10, 0, {65536, 0, 1, 0}), call("msgsnd", 10, 0, {32768, 0, 1, 0})};
    p.sysv.clear(); // removed since: the key stays known until IPC_RMID is seen
    qc.annotate(w);
    EXPECT_EQ(ctx(w[0]), "-") << "IPC_RMID forgot it";
    EXPECT_EQ(ctx(w[1]), "sysvipc:16962");
    // Process 20 learns an identifier, exits; its records still to come keep its namespace.
    std::vector<Item> x{call("msgget", 20, 98304, {0x77, 01600})};
    qc.annotate(x);
    p.ns.erase(20);
    std::vector<Item> y{call("msgsnd", 20, 0, {98304, 0, 1, 0})};
    qc.annotate(y);
    EXPECT_EQ(ctx(y[0]), "msgget:119");
    // Its process id reused in our namespace: not the container's queue.
    p.ns[20] = 7;
    std::vector<Item> z{call("msgsnd", 20, 0, {98304, 0, 1, 0})};
    qc.annotate(z);
    EXPECT_EQ(ctx(z[0]), "-");
}

TEST(QueueContext, TextAndJson) {
    Item it = call("mq_notify", 10, 0, {3, 0});
    it.call.queue = {QueueSource::MqOpen, std::make_shared<const std::string>("/q\x1b<>\""), 0};
    FormatOptions o;
    EXPECT_NE(format_item(it, o).find("mqdes=3</q\\x1b\\x3c\\x3e\\\">, sevp=NULL"), std::string::npos)
        << format_item(it, o); // as strace -y: the brackets delimit
    it.call.queue.path = std::make_shared<const std::string>("/q\x1b");
    it.call.queue.src = QueueSource::ProcFd;
    EXPECT_NE(format_item(it, o).find("mqdes=3<~/q\\x1b>"), std::string::npos);
    o.format = OutputFormat::Json;
    EXPECT_NE(format_item(it, o).find(",\"queue\":{\"name\":\"/q\\u001b\",\"source\":\"proc-fd\"}"),
              std::string::npos)
        << format_item(it, o);
    Item s = call("msgsnd", 10, 0, {65536, 0, 1, 0});
    s.call.queue = {QueueSource::Msgget, nullptr, 0};
    EXPECT_NE(format_item(s, o).find(",\"queue\":{\"key\":0,\"source\":\"msgget\"}"), std::string::npos);
    o.format = OutputFormat::Text;
    EXPECT_NE(format_item(s, o).find("msqid=65536<key=IPC_PRIVATE>"), std::string::npos) << format_item(s, o);
}

// The queue itself (QueueCtx::id): a name unlinked and created again is
// another queue, while descriptors of the first still refer to it; an
// mq_open that ran beside the unlink may have opened either; a System V
// identifier names another queue after IPC_RMID.
TEST(QueueContext, QueueIdentityAcrossUnlinkAndRemoval) {
    FakeProc p;
    p.ns[10] = p.ns[11] = 7;
    p.fds[{10, 3}] = "/q (deleted)";
    p.fds[{10, 4}] = p.fds[{11, 3}] = "/q";
    QueueContext qc(p);
    auto at = [](Item it, std::uint64_t ts, std::uint64_t end) {
        it.call.ts = ts;
        it.call.ts_end = end;
        return it;
    };
    std::vector<Item> v{at(call("mq_open", 10, 3, {1, 0302}, "q"), 100, 110), // O_CREAT|O_EXCL|O_RDWR
                        at(call("mq_timedsend", 10, 0, {3}), 120, 130),
                        at(call("mq_unlink", 10, 0, {1}, "q"), 200, 210),
                        at(call("mq_open", 10, 4, {1, 0102}, "q"), 300, 310), // O_CREAT: it creates it
                        at(call("mq_timedsend", 10, 0, {3}), 320, 330),
                        at(call("mq_timedsend", 10, 0, {4}), 340, 350),
                        at(call("mq_timedsend", 11, 0, {3}), 360, 370)}; // inherited: /proc names it
    qc.annotate(v);
    const std::uint64_t first = v[0].call.queue.id, second = v[3].call.queue.id;
    EXPECT_TRUE(v[0].call.queue.created);
    EXPECT_TRUE(v[3].call.queue.created) << "O_CREAT after the name was seen unlinked";
    EXPECT_NE(first, 0u);
    EXPECT_NE(second, 0u);
    EXPECT_NE(first, second);
    EXPECT_EQ(v[1].call.queue.id, first);
    EXPECT_EQ(v[4].call.queue.id, first) << "descriptor 3 still refers to the unlinked queue";
    EXPECT_EQ(v[5].call.queue.id, second);
    EXPECT_EQ(v[6].call.queue.id, second) << "a descriptor /proc names: the queue the name names now";
    EXPECT_EQ(qc.identify(v[4].call), first);
    EXPECT_EQ(qc.identify(v[5].call), second);
    // An mq_open that began before an unlink of the name returned: either queue.
    p.fds[{10, 5}] = "/q";
    std::vector<Item> w{at(call("mq_unlink", 10, 0, {1}, "q"), 400, 450),
                        at(call("mq_open", 10, 5, {1, 0102}, "q"), 440, 460),
                        at(call("mq_timedsend", 10, 0, {5}), 470, 480)};
    qc.annotate(w);
    EXPECT_EQ(w[1].call.queue.id, 0u);
    EXPECT_FALSE(w[1].call.queue.created);
    EXPECT_EQ(w[2].call.queue.id, 0u);
    // A deleted queue /proc names, with no mq_open seen: not known which.
    p.fds[{11, 6}] = "/gone (deleted)";
    std::vector<Item> x{call("mq_timedsend", 11, 0, {6})};
    qc.annotate(x);
    EXPECT_EQ(x[0].call.queue.id, 0u);
    // System V: IPC_PRIVATE creates; after IPC_RMID the identifier is another queue.
    std::vector<Item> y{call("msgget", 10, 65536, {0, 01600}), call("msgsnd", 10, 0, {65536}),
                        call("msgctl", 10, 0, {65536, 0}), call("msgsnd", 11, 0, {65536})};
    qc.annotate(y);
    EXPECT_TRUE(y[0].call.queue.created);
    EXPECT_EQ(y[1].call.queue.id, y[0].call.queue.id);
    EXPECT_NE(y[3].call.queue.id, y[0].call.queue.id);
    EXPECT_NE(y[3].call.queue.id, 0u);
}

// A process that makes and removes queue after queue, its descriptor number
// reused by each new one: the queues are found gone as they go (when the
// unlinked ones have doubled), not only when it exits, and never the one its
// descriptor still refers to.
TEST(QueueContext, QueuesMadeAndRemovedOneAfterTheOtherAreGoneSoon) {
    FakeProc p;
    p.ns[10] = 7;
    p.fds[{10, 3}] = "/q";
    QueueContext qc(p);
    std::vector<std::uint64_t> ids, gone;
    for (int i = 0; i < 200; ++i) {
        std::vector<Item> v{call("mq_open", 10, 3, {1, 0302}, "q"), call("mq_unlink", 10, 0, {1}, "q")};
        qc.annotate(v);
        ids.push_back(v[0].call.queue.id);
        for (std::uint64_t q : qc.take_gone())
            gone.push_back(q);
    }
    ASSERT_LT(200u, QueueContext::kPruneRounds);
    EXPECT_GE(gone.size(), 100u);
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(std::unique(ids.begin(), ids.end()), ids.end()) << "a new queue each time";
    for (std::uint64_t q : gone)
        EXPECT_TRUE(std::binary_search(ids.begin(), ids.end(), q)) << q;
    std::sort(gone.begin(), gone.end());
    EXPECT_EQ(std::unique(gone.begin(), gone.end()), gone.end()) << "each once";
    EXPECT_FALSE(std::binary_search(gone.begin(), gone.end(), ids.back()))
        << "descriptor 3 still refers to it";
}

// A POSIX queue is gone when it was unlinked and its last descriptor closed:
// found when the descriptors of exited processes are dropped (take_gone, for
// the models of --flows), not while a known descriptor still refers to it.
TEST(QueueContext, UnlinkedQueueGoneWithItsLastDescriptor) {
    FakeProc p;
    p.ns[10] = p.ns[11] = 7;
    p.fds[{10, 3}] = "/q";
    p.fds[{11, 4}] = "/r";
    QueueContext qc(p);
    std::vector<Item> v{call("mq_open", 10, 3, {1, 0302}, "q"), call("mq_open", 11, 4, {1, 0302}, "r"),
                        call("mq_unlink", 11, 0, {1}, "q")};
    qc.annotate(v);
    const std::uint64_t q = v[0].call.queue.id;
    ASSERT_NE(q, 0u);
    auto rounds = [&] {
        for (std::uint64_t i = 0; i < QueueContext::kPruneRounds; ++i) {
            std::vector<Item> none;
            qc.annotate(none);
        }
    };
    rounds();
    EXPECT_TRUE(qc.take_gone().empty()) << "process 10 still has it open";
    p.ns.erase(10); // exits
    p.fds.erase({10, 3});
    rounds();
    EXPECT_EQ(qc.take_gone(), std::vector<std::uint64_t>{q});
    EXPECT_TRUE(qc.take_gone().empty()) << "once";
    p.ns.erase(11); // /r was never unlinked: it lives on
    rounds();
    EXPECT_TRUE(qc.take_gone().empty());
}
