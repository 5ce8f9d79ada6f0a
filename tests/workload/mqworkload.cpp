// mqworkload: makes known message-queue calls for mqtrace's real-kernel tests.
//   mqworkload [--raw] all TAG       every syscall, success and failure (see below)
//   mqworkload [--raw] open NAME_HEX  mq_open(O_RDONLY) of a name given in hex, then exit
//   mqworkload race TAG N            a thread rewrites the name while another opens it (N times)
//   mqworkload block TAG             create /mqt-TAG and block in mq_receive on it (until killed)
//   mqworkload crowd TAG N           N threads block in mq_receive on /mqt-TAG at once (more
//                                    than a kretprobe's 64 instances: kprobe misses), then
//                                    each gets a message; prints "received R" and "sent S"
//   mqworkload flood TAG N           N rounds of 9 calls as fast as possible (mq_open, send,
//                                    receive, unlink, msgget, msgsnd, msgrcv, msgctl x2);
//                                    prints "calls M" with the number of calls made
//   mqworkload poison TAG N          N rounds of msgsnd, mq_timedsend, mq_timedreceive,
//                                    mq_setattr, mq_notify and msgctl(IPC_SET) with buffers on
//                                    the stack, in static storage and on the heap, each
//                                    overwritten right after its call; prints
//                                    "event storage value" for what each call passed
//   mqworkload errors TAG            every early-failure path of the ten syscalls, through
//                                    syscall(2): EFAULT for each pointer, EINVAL for each
//                                    checked value, EBADF, ENOENT, and EACCES (from a child
//                                    that drops to uid 65534); prints "event ret errno pid"
//   mqworkload flows TAG             producers and consumers (threads, processes; priorities,
//                                    System V types with every msgtyp mode, MSG_COPY, blocked
//                                    receivers and blocked senders), every body "m<ID>:...";
//                                    prints "S tid ID", "R tid ID", "C tid ID" (copy) after
//                                    each successful send, receive, copy: the truth for links
//   mqworkload depth TAG             before --wait-file: /mqt-TAG-d with 3 messages (10 bytes)
//                                    and a System V queue with 2 (10 bytes), prints "posix
//                                    NAME" and "sysv MSQID"; then sends 1 to each and takes 2
//                                    from each (the depth at start of -c)
//   mqworkload reuse TAG             descriptor context: a queue and a System V queue made
//                                    before --wait-file, descriptors reused by dup2 and by
//                                    close and mq_open, one inherited by a child (see
//                                    Integration.QueueContextFollowsDescriptors)
// --raw makes every call through syscall(2) instead of the libc wrappers.
// --linger MS keeps the process (and the memory its calls pointed to) alive
// for MS milliseconds before it exits, so that late reads can succeed.
// --wait-file PATH waits until PATH exists before the first call (so that a
// tracer can be pointed at this process with -p first). --threads T: flood in
// T threads. --pace US: flood sleeps US microseconds after each round.
// --fresh: flows sends and receives every message from and into a buffer of
// its own that is never freed, and logs its address after the id: a call's
// buffer pointer tells which message it was, even when records are lost.
// The expected decoding of "all" is spelled out in tests/integration_test.cpp.
#include <fcntl.h>
#include <mqueue.h>
#include <pthread.h>
#include <signal.h>
#include <sys/msg.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

bool g_raw = false;
int g_linger_ms = 0;
const char* g_wait_file = nullptr;
int g_threads = 1;
int g_pace_us = 0;
bool g_fresh = false;

// Called at the end of each scenario, while the memory its calls pointed to
// is still alive: late reads then see the arguments as they were.
void linger() {
    std::fflush(stdout);
    if (g_linger_ms > 0) usleep(static_cast<useconds_t>(g_linger_ms) * 1000);
}

long do_mq_open(const char* name, int oflag, mode_t mode, mq_attr* attr) {
    if (g_raw) return syscall(SYS_mq_open, name + 1, oflag, mode, attr); // the kernel never sees '/'
    return mq_open(name, oflag, mode, attr);
}
long do_mq_unlink(const char* name) {
    if (g_raw) return syscall(SYS_mq_unlink, name + 1);
    return mq_unlink(name);
}
long do_send(int fd, const char* p, size_t n, unsigned prio, const timespec* ts) {
    if (g_raw) return syscall(SYS_mq_timedsend, fd, p, n, prio, ts);
    return ts ? mq_timedsend(fd, p, n, prio, ts) : mq_send(fd, p, n, prio); // glibc: timeout nonnull
}
long do_receive(int fd, char* p, size_t n, unsigned* prio, const timespec* ts) {
    if (g_raw) return syscall(SYS_mq_timedreceive, fd, p, n, prio, ts);
    return ts ? mq_timedreceive(fd, p, n, prio, ts) : mq_receive(fd, p, n, prio);
}
long do_notify(int fd, const sigevent* sev) {
    if (g_raw) return syscall(SYS_mq_notify, fd, sev);
    return mq_notify(fd, sev);
}
long do_getsetattr(int fd, const mq_attr* n, mq_attr* o) {
    if (g_raw) return syscall(SYS_mq_getsetattr, fd, n, o);
    return n ? mq_setattr(fd, n, o) : mq_getattr(fd, o);
}
long do_msgget(key_t k, int f) { return g_raw ? syscall(SYS_msgget, k, f) : msgget(k, f); }
long do_msgsnd(int id, const void* m, size_t n, int f) {
    return g_raw ? syscall(SYS_msgsnd, id, m, n, f) : msgsnd(id, m, n, f);
}
long do_msgrcv(int id, void* m, size_t n, long t, int f) {
    return g_raw ? syscall(SYS_msgrcv, id, m, n, t, f) : msgrcv(id, m, n, t, f);
}
long do_msgctl(int id, int cmd, msqid_ds* b) {
    return g_raw ? syscall(SYS_msgctl, id, cmd, b) : msgctl(id, cmd, b);
}

void report(const char* what, long r) {
    std::printf("%s %ld %s\n", what, r, r < 0 ? strerrorname_np(errno) : "-");
}

int all(const std::string& tag) {
    const std::string name = "/mqt-" + tag;
    mq_attr attr{0, 4, 64, 0, {}};
    const timespec far{4102444800, 5}; // 2100-01-01, so nothing times out
    long fd = do_mq_open(name.c_str(), O_CREAT | O_RDWR, 0600, &attr);
    report("mq_open", fd);
    report("mq_open", do_mq_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &attr));
    report("mq_timedsend", do_send(static_cast<int>(fd), "hello", 5, 3, &far));
    char buf[64];
    unsigned prio = 0;
    report("mq_timedreceive", do_receive(static_cast<int>(fd), buf, sizeof buf, &prio, &far));
    sigevent sev{};
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGUSR2;
    report("mq_notify", do_notify(static_cast<int>(fd), &sev));
    report("mq_notify", do_notify(static_cast<int>(fd), nullptr));
    mq_attr nb{O_NONBLOCK, 0, 0, 0, {}}, old{};
    report("mq_getsetattr", do_getsetattr(static_cast<int>(fd), &nb, &old));
    report("mq_getsetattr", do_getsetattr(static_cast<int>(fd), nullptr, &old));
    report("mq_timedreceive", do_receive(static_cast<int>(fd), buf, sizeof buf, &prio, nullptr));
    close(static_cast<int>(fd));
    report("mq_unlink", do_mq_unlink(name.c_str()));
    report("mq_unlink", do_mq_unlink(name.c_str()));

    const long id = do_msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    report("msgget", id);
    const key_t key = static_cast<key_t>(0x6d710000 | (getpid() & 0xffff));
    report("msgget", do_msgget(key, 0));
    struct {
        long mtype;
        char mtext[16];
    } msg{42, "payload"};
    report("msgsnd", do_msgsnd(static_cast<int>(id), &msg, 7, 0));
    report("msgrcv", do_msgrcv(static_cast<int>(id), &msg, sizeof msg.mtext, 42, 0));
    report("msgrcv", do_msgrcv(static_cast<int>(id), &msg, sizeof msg.mtext, 0, IPC_NOWAIT));
    msqid_ds ds{};
    report("msgctl", do_msgctl(static_cast<int>(id), IPC_STAT, &ds));
    report("msgctl", do_msgctl(static_cast<int>(id), IPC_RMID, nullptr));
    report("msgctl", do_msgctl(static_cast<int>(id), IPC_RMID, nullptr));
    report("msgsnd", do_msgsnd(-1, &msg, 7, IPC_NOWAIT));
    linger();
    return 0;
}

int open_hex(const char* hex) {
    std::string name;
    for (const char* p = hex; p[0] && p[1]; p += 2)
        name += static_cast<char>(std::strtol(std::string(p, 2).c_str(), nullptr, 16));
    report("mq_open", do_mq_open(name.c_str(), O_RDONLY, 0, nullptr));
    linger();
    return 0;
}

// One thread flips the name buffer between two values while another opens it
// N times. The first name is a queue (made before, removed after), the second
// is not: whether an open succeeded says which name the kernel used.
int race(const std::string& tag, int n) {
    static char name[64];
    const std::string a = "/mqt-" + tag + "-a", b = "/mqt-" + tag + "-b";
    mq_attr attr{0, 4, 64, 0, {}};
    const long q = do_mq_open(a.c_str(), O_CREAT | O_RDWR, 0600, &attr);
    report("mq_open", q);
    if (q >= 0) close(static_cast<int>(q));
    std::snprintf(name, sizeof name, "%s", a.c_str());
    std::atomic<bool> stop{false};
    std::thread flipper([&] {
        for (bool x = false; !stop.load(std::memory_order_relaxed); x = !x)
            std::memcpy(name, (x ? b : a).c_str(), a.size() + 1);
    });
    int opened = 0;
    for (int i = 0; i < n; ++i)
        if (const long fd = do_mq_open(name, O_RDONLY, 0, nullptr); fd >= 0) {
            ++opened;
            close(static_cast<int>(fd));
        }
    stop = true;
    flipper.join();
    report("race", opened);
    report("mq_unlink", do_mq_unlink(a.c_str()));
    linger();
    return 0;
}

int block(const std::string& tag) {
    const std::string name = "/mqt-" + tag;
    mq_attr attr{0, 4, 64, 0, {}};
    const long fd = do_mq_open(name.c_str(), O_CREAT | O_RDWR, 0600, &attr);
    report("mq_open", fd);
    std::fflush(stdout);
    char buf[64];
    unsigned prio;
    report("mq_timedreceive", do_receive(static_cast<int>(fd), buf, sizeof buf, &prio, nullptr));
    return 0;
}

int crowd(const std::string& tag, int n) {
    const std::string name = "/mqt-" + tag;
    mq_attr attr{0, 4, 64, 0, {}};
    const long fd = do_mq_open(name.c_str(), O_CREAT | O_RDWR, 0600, &attr);
    report("mq_open", fd);
    if (fd < 0) return 1;
    std::atomic<int> started{0}, received{0};
    std::vector<std::thread> waiting;
    for (int i = 0; i < n; ++i)
        waiting.emplace_back([&] {
            ++started;
            char buf[64];
            unsigned prio;
            if (do_receive(static_cast<int>(fd), buf, sizeof buf, &prio, nullptr) == 1) ++received;
        });
    while (started < n)
        usleep(1000);
    usleep(500000); // every thread in the kernel, waiting
    long sent = 0;
    for (int i = 0; i < n; ++i)
        sent += do_send(static_cast<int>(fd), "c", 1, 0, nullptr) == 0;
    for (auto& t : waiting)
        t.join();
    report("received", received);
    report("sent", sent);
    report("mq_unlink", do_mq_unlink(name.c_str()));
    return 0;
}

long flood_one(const std::string& tag, long n) {
    const std::string name = "/mqt-" + tag;
    mq_attr attr{0, 4, 64, 0, {}};
    const timespec far{4102444800, 5};
    struct {
        long mtype;
        char mtext[16];
    } msg{1, "flood"};
    char buf[64];
    unsigned prio;
    long calls = 0;
    for (long i = 0; i < n; ++i) {
        const long fd = do_mq_open(name.c_str(), O_CREAT | O_RDWR, 0600, &attr);
        do_send(static_cast<int>(fd), "x", 1, 0, &far);
        do_receive(static_cast<int>(fd), buf, sizeof buf, &prio, &far);
        close(static_cast<int>(fd));
        do_mq_unlink(name.c_str());
        const long id = do_msgget(IPC_PRIVATE, IPC_CREAT | 0600);
        do_msgsnd(static_cast<int>(id), &msg, 5, 0);
        do_msgrcv(static_cast<int>(id), &msg, sizeof msg.mtext, 0, 0);
        do_msgctl(static_cast<int>(id), IPC_STAT, nullptr); // EFAULT: cheap
        do_msgctl(static_cast<int>(id), IPC_RMID, nullptr);
        calls += 9;
        if (g_pace_us > 0) usleep(static_cast<useconds_t>(g_pace_us));
    }
    return calls;
}

// --threads T: T threads flood at once, each on queues of its own.
int flood(const std::string& tag, long n) {
    std::vector<long> calls(static_cast<std::size_t>(g_threads), 0);
    std::vector<std::thread> ts;
    for (int t = 1; t < g_threads; ++t)
        ts.emplace_back(
            [&, t] { calls[static_cast<std::size_t>(t)] = flood_one(tag + "-" + std::to_string(t), n); });
    calls[0] = flood_one(tag, n);
    for (auto& t : ts)
        t.join();
    long total = 0;
    for (long c : calls)
        total += c;
    std::printf("calls %ld\n", total);
    linger();
    return 0;
}

// Buffers reused call after call and rewritten right after each call, as real
// programs do: what a late read finds is the poison, never the argument.
struct PoisonMsg {
    long mtype;
    char mtext[8];
};
struct PoisonBufs {
    PoisonMsg msg;
    timespec ts;
    mq_attr na;
    sigevent sev;
    msqid_ds ds;
};

// One round of the six calls on buffers b, each poisoned right after its call.
__attribute__((noinline)) void poison_round(long fd, long id, const msqid_ds& cur, long v,
                                            const char* storage, PoisonBufs* b) {
    char buf[64];
    unsigned prio;
    b->msg = PoisonMsg{v, "x"};
    do_msgsnd(static_cast<int>(id), &b->msg, 1, IPC_NOWAIT);
    std::printf("msgsnd %s %ld\n", storage, v);
    b->msg.mtype = 0x5a5a5a5a;
    b->ts = timespec{4102444800 + v, v};
    do_send(static_cast<int>(fd), "x", 1, 0, &b->ts);
    std::printf("mq_timedsend %s %ld\n", storage, v);
    b->ts = timespec{0x5a5a5a5a, 0x5a5a}; // poisoned, then set again for the receive
    b->ts = timespec{4102444800 + v, v};
    do_receive(static_cast<int>(fd), buf, sizeof buf, &prio, &b->ts);
    std::printf("mq_timedreceive %s %ld\n", storage, v);
    b->ts = timespec{0x5a5a5a5a, 0x5a5a};
    b->na = mq_attr{(v % 2) ? O_NONBLOCK : 0, 0, 0, 0, {}};
    do_getsetattr(static_cast<int>(fd), &b->na, nullptr);
    std::printf("mq_getsetattr %s %ld\n", storage, (v % 2) ? static_cast<long>(O_NONBLOCK) : 0L);
    b->na = mq_attr{0x5a5a, 0x5a5a, 0x5a5a, 0x5a5a, {}};
    b->sev = sigevent{};
    b->sev.sigev_notify = SIGEV_NONE;
    b->sev.sigev_signo = static_cast<int>(v);
    do_notify(static_cast<int>(fd), &b->sev);
    std::printf("mq_notify %s %ld\n", storage, v);
    b->sev.sigev_signo = 0x5a5a;
    do_notify(static_cast<int>(fd), nullptr); // removes it: the next round registers again
    b->ds = cur;
    b->ds.msg_qbytes = static_cast<msglen_t>(16384 + v);
    do_msgctl(static_cast<int>(id), IPC_SET, &b->ds);
    std::printf("msgctl %s %ld\n", storage, 16384 + v);
    b->ds.msg_qbytes = 0x5a5a;
}

// The stack buffers in a frame of their own, right above the calls': within
// the top kilobyte of the stack at syscall entry, as a small program's are.
__attribute__((noinline)) void poison_on_stack(long fd, long id, const msqid_ds& cur, long v) {
    PoisonBufs on_stack{};
    poison_round(fd, id, cur, v, "stack", &on_stack);
}

int poison(const std::string& tag, int rounds) {
    const std::string name = "/mqt-" + tag;
    mq_attr attr{0, 8, 64, 0, {}};
    const long fd = do_mq_open(name.c_str(), O_CREAT | O_RDWR | O_NONBLOCK, 0600, &attr);
    const long id = do_msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    if (fd < 0 || id < 0) return 1;
    static PoisonBufs in_static;
    auto on_heap = std::make_unique<PoisonBufs>();
    msqid_ds cur{};
    do_msgctl(static_cast<int>(id), IPC_STAT, &cur);
    for (int r = 0; r < rounds; ++r) {
        const long v = 1000 + r;
        poison_on_stack(fd, id, cur, v);
        poison_round(fd, id, cur, v, "static", &in_static);
        poison_round(fd, id, cur, v, "heap", on_heap.get());
    }
    close(static_cast<int>(fd));
    do_mq_unlink(name.c_str());
    do_msgctl(static_cast<int>(id), IPC_RMID, nullptr);
    linger();
    return 0;
}

// An address that is never mapped (below mmap_min_addr).
void* const kBad = reinterpret_cast<void*>(16);

void report_pid(const char* what, long r) {
    std::printf("%s %ld %s %d\n", what, r, r < 0 ? strerrorname_np(errno) : "-", getpid());
}

int errors(const std::string& tag) {
    const std::string q = "mqt-" + tag + "-e", missing = "mqt-" + tag + "-missing",
                      acc = "mqt-" + tag + "-acc";
    mq_attr zero{0, 0, 64, 0, {}}, good{0, 4, 64, 0, {}}, badflags{1, 0, 0, 0, {}};
    const timespec neg_sec{-1, 0}, big_nsec{0, 1000000000}, neg_nsec{0, -1};
    char buf[64];
    auto r = [](const char* ev, long v) { report_pid(ev, v); };
    r("mq_open", syscall(SYS_mq_open, kBad, O_RDONLY, 0, nullptr));               // 0 EFAULT name
    r("mq_open", syscall(SYS_mq_open, q.c_str(), O_CREAT | O_RDWR, 0600, kBad));  // 1 EFAULT attr
    r("mq_open", syscall(SYS_mq_open, q.c_str(), O_CREAT | O_RDWR, 0600, &zero)); // 2 EINVAL attr
    r("mq_open", syscall(SYS_mq_open, missing.c_str(), O_RDONLY, 0, nullptr));    // 3 ENOENT
    r("mq_unlink", syscall(SYS_mq_unlink, kBad));                                 // 4 EFAULT
    r("mq_unlink", syscall(SYS_mq_unlink, missing.c_str()));                      // 5 ENOENT
    const long fd = syscall(SYS_mq_open, q.c_str(), O_CREAT | O_RDWR | O_NONBLOCK, 0600, &good);
    r("mq_open", fd);                                                                    // 6 ok
    r("mq_timedsend", syscall(SYS_mq_timedsend, fd, "x", 1, 0, kBad));                   // 7 EFAULT
    r("mq_timedsend", syscall(SYS_mq_timedsend, fd, "x", 1, 0, &neg_sec));               // 8 EINVAL
    r("mq_timedsend", syscall(SYS_mq_timedsend, fd, "x", 1, 0, &big_nsec));              // 9 EINVAL
    r("mq_timedsend", syscall(SYS_mq_timedsend, fd, kBad, 1, 0, nullptr));               // 10 EFAULT body
    r("mq_timedsend", syscall(SYS_mq_timedsend, -1, "x", 1, 0, nullptr));                // 11 EBADF
    r("mq_timedreceive", syscall(SYS_mq_timedreceive, fd, buf, 64, nullptr, kBad));      // 12 EFAULT
    r("mq_timedreceive", syscall(SYS_mq_timedreceive, fd, buf, 64, nullptr, &neg_nsec)); // 13 EINVAL
    r("mq_timedreceive", syscall(SYS_mq_timedreceive, -1, buf, 64, nullptr, nullptr));   // 14 EBADF
    r("mq_notify", syscall(SYS_mq_notify, fd, kBad));                                    // 15 EFAULT
    sigevent bad_notify{};
    bad_notify.sigev_notify = 99;
    r("mq_notify", syscall(SYS_mq_notify, fd, &bad_notify));                // 16 EINVAL
    r("mq_notify", syscall(SYS_mq_notify, -1, nullptr));                    // 17 EBADF
    r("mq_getsetattr", syscall(SYS_mq_getsetattr, fd, kBad, nullptr));      // 18 EFAULT new
    r("mq_getsetattr", syscall(SYS_mq_getsetattr, fd, nullptr, kBad));      // 19 EFAULT old
    r("mq_getsetattr", syscall(SYS_mq_getsetattr, fd, &badflags, nullptr)); // 20 EINVAL
    r("mq_getsetattr", syscall(SYS_mq_getsetattr, -1, nullptr, nullptr));   // 21 EBADF
    close(static_cast<int>(fd));
    const key_t key = static_cast<key_t>(0x6d720000 | (getpid() & 0xffff));
    r("msgget", syscall(SYS_msgget, key, 0)); // 22 ENOENT
    const long id = syscall(SYS_msgget, IPC_PRIVATE, IPC_CREAT | 0600);
    r("msgget", id); // 23 ok
    struct {
        long mtype;
        char mtext[8];
    } zero_type{0, "x"}, one{1, "x"};
    r("msgsnd", syscall(SYS_msgsnd, id, kBad, 8, IPC_NOWAIT));                         // 24 EFAULT
    r("msgsnd", syscall(SYS_msgsnd, id, &zero_type, 8, IPC_NOWAIT));                   // 25 EINVAL mtype
    r("msgsnd", syscall(SYS_msgsnd, id, &one, static_cast<size_t>(-1), IPC_NOWAIT));   // 26 EINVAL size
    r("msgsnd", syscall(SYS_msgsnd, -1, &one, 8, IPC_NOWAIT));                         // 27 EINVAL id
    r("msgrcv", syscall(SYS_msgrcv, id, buf, static_cast<size_t>(-1), 0, IPC_NOWAIT)); // 28 EINVAL size
    r("msgsnd", syscall(SYS_msgsnd, id, &one, 8, IPC_NOWAIT));                         // 29 ok
    r("msgrcv", syscall(SYS_msgrcv, id, kBad, 8, 0, IPC_NOWAIT));                      // 30 EFAULT
    r("msgctl", syscall(SYS_msgctl, id, 12345, nullptr));                              // 31 EINVAL cmd
    r("msgctl", syscall(SYS_msgctl, id, IPC_STAT, kBad));                              // 32 EFAULT
    r("msgctl", syscall(SYS_msgctl, id, IPC_SET, kBad));                               // 33 EFAULT
    msqid_ds ds{};
    r("msgctl", syscall(SYS_msgctl, -1, IPC_STAT, &ds)); // 34 EINVAL id
    // EACCES: a queue of each kind that only root may use, opened by a child as nobody.
    const long afd = syscall(SYS_mq_open, acc.c_str(), O_CREAT | O_RDWR, 0600, &good);
    r("mq_open", afd);                                         // 35 ok
    r("msgsnd", syscall(SYS_msgsnd, id, &one, 8, IPC_NOWAIT)); // 36 ok
    std::fflush(stdout);
    const pid_t child = fork();
    if (child == 0) {
        if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(126);
        r("mq_open", syscall(SYS_mq_open, acc.c_str(), O_RDONLY, 0, nullptr)); // c0 EACCES
        r("msgsnd", syscall(SYS_msgsnd, id, &one, 8, IPC_NOWAIT));             // c1 EACCES
        r("msgrcv", syscall(SYS_msgrcv, id, buf, 8, 0, IPC_NOWAIT));           // c2 EACCES
        r("msgctl", syscall(SYS_msgctl, id, IPC_STAT, &ds));                   // c3 EACCES
        std::fflush(stdout);
        _exit(0);
    }
    int st = 0;
    waitpid(child, &st, 0);
    close(static_cast<int>(afd));
    r("mq_unlink", syscall(SYS_mq_unlink, acc.c_str()));     // 37 ok
    r("mq_unlink", syscall(SYS_mq_unlink, q.c_str()));       // 38 ok
    r("msgctl", syscall(SYS_msgctl, id, IPC_RMID, nullptr)); // 39 ok
    linger();
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

void wait_go() {
    while (g_wait_file && access(g_wait_file, F_OK) != 0)
        usleep(1000);
}

int depth(const std::string& tag) {
    const std::string name = "/mqt-" + tag + "-d";
    do_mq_unlink(name.c_str());
    const int fd = static_cast<int>(do_mq_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, nullptr));
    do_send(fd, "hello", 5, 1, nullptr);
    do_send(fd, "hi", 2, 3, nullptr);
    do_send(fd, "abc", 3, 3, nullptr);
    const int q = static_cast<int>(do_msgget(IPC_PRIVATE, IPC_CREAT | 0600));
    do_msgsnd(q, "\1\0\0\0\0\0\0\0four", 4, 0);
    do_msgsnd(q, "\2\0\0\0\0\0\0\0sixsix", 6, 0);
    std::printf("posix %s\nsysv %d\n", name.c_str(), q);
    std::fflush(stdout);
    wait_go(); // the tracer starts here
    do_send(fd, "x", 1, 0, nullptr);
    do_msgsnd(q, "\3\0\0\0\0\0\0\0x", 1, 0);
    char buf[8192];
    unsigned prio = 0;
    for (int i = 0; i < 2; ++i) {
        do_receive(fd, buf, sizeof buf, &prio, nullptr);
        do_msgrcv(q, buf, 64, 0, 0);
    }
    linger(); // the queues still there: the tracer reads which they are
    do_mq_unlink(name.c_str());
    do_msgctl(q, IPC_RMID, nullptr);
    return 0;
}

int reuse(const std::string& tag) {
    const std::string pre = "/mqt-" + tag + "-pre", a = "/mqt-" + tag + "-a", b = "/mqt-" + tag + "-b",
                      c = "/mqt-" + tag + "-c";
    const int pfd = static_cast<int>(do_mq_open(pre.c_str(), O_CREAT | O_RDWR, 0600, nullptr));
    const key_t key = static_cast<key_t>(0x6d720000 | (getpid() & 0xffff));
    const long id = do_msgget(key, IPC_CREAT | 0600);
    report("pre", pfd);
    report("pre", id);
    wait_go(); // the tracer starts here
    const long afd = do_mq_open(a.c_str(), O_CREAT | O_RDWR, 0600, nullptr);
    report("mq_open", afd); // 0
    const long bfd = do_mq_open(b.c_str(), O_CREAT | O_RDWR, 0600, nullptr);
    report("mq_open", bfd);                                                       // 1
    report("mq_timedsend", do_send(static_cast<int>(afd), "1", 1, 0, nullptr));   // 2: a
    report("mq_timedsend", do_send(pfd, "2", 1, 0, nullptr));                     // 3: pre, from /proc
    report("msgsnd", do_msgsnd(static_cast<int>(id), "\1\0\0\0\0\0\0\0x", 1, 0)); // 4: from /proc/sysvipc
    usleep(500000);                                                               // the tracer confirms 2
    dup2(static_cast<int>(bfd), static_cast<int>(afd));                           // afd is b now, unseen
    report("mq_timedsend", do_send(static_cast<int>(afd), "3", 1, 0, nullptr));   // 5: never a
    close(static_cast<int>(bfd));
    const long cfd = do_mq_open(c.c_str(), O_CREAT | O_RDWR, 0600, nullptr);
    report("mq_open", cfd);                                                     // 6: bfd's number again
    report("mq_timedsend", do_send(static_cast<int>(cfd), "4", 1, 0, nullptr)); // 7: c
    std::fflush(stdout);
    const pid_t child = fork();
    if (child == 0) {
        report("mq_timedsend", do_send(static_cast<int>(afd), "5", 1, 0, nullptr)); // child: b, from /proc
        std::fflush(stdout);
        usleep(500000);
        _exit(0);
    }
    int st = 0;
    waitpid(child, &st, 0);
    report("msgctl", do_msgctl(static_cast<int>(id), IPC_RMID, nullptr));                  // 8
    report("msgsnd", do_msgsnd(static_cast<int>(id), "\1\0\0\0\0\0\0\0x", 1, IPC_NOWAIT)); // 9: EINVAL
    usleep(500000); // /proc still shows the queues when the tracer looks
    for (const auto& n : {pre, a, b, c})
        do_mq_unlink(n.c_str());
    linger();
    return 0;
}

// --- flows: the truth for links (see the usage above) ---------------------

void log_msg(char kind, long id, const void* buffer = nullptr) {
    char line[96];
    const int n = std::snprintf(line, sizeof line, "%c %ld %ld %llu\n", kind, static_cast<long>(gettid()), id,
                                static_cast<unsigned long long>(reinterpret_cast<std::uintptr_t>(buffer)));
    if (write(1, line, static_cast<std::size_t>(n)) != n) std::abort(); // one write: lines do not mix
}

// "m<id>:" and padding to a length that varies with id.
std::string body_of(long id) {
    std::string b = "m" + std::to_string(id) + ":";
    b.append(static_cast<std::size_t>(id % 7), 'x');
    return b;
}

long id_in(const char* p, long n) {
    if (n < 2 || p[0] != 'm') return -1;
    return std::atol(p + 1);
}

// A buffer for one call's message: on the stack, or with --fresh one of its own, kept to the end.
char* body_buffer(char* stack) { return g_fresh ? new char[64]() : stack; }

void posix_send(int fd, long id, unsigned prio) {
    const std::string b = body_of(id);
    char stack[64];
    char* p = body_buffer(stack);
    std::memcpy(p, b.data(), b.size());
    if (do_send(fd, p, b.size(), prio, nullptr) == 0) log_msg('S', id, p);
}

long posix_receive(int fd, bool log = true) {
    char stack[64];
    char* buf = body_buffer(stack);
    unsigned prio = 0;
    const long n = do_receive(fd, buf, 64, &prio, nullptr);
    if (n > 0 && log) log_msg('R', id_in(buf, n), buf);
    return n;
}

int posix_queue(const std::string& name, long maxmsg) {
    mq_attr attr{0, maxmsg, 64, 0, {}};
    do_mq_unlink(name.c_str());
    return static_cast<int>(do_mq_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &attr));
}

struct SysvMsg {
    long mtype;
    char text[64];
};

SysvMsg* sysv_buffer(SysvMsg* stack) { return g_fresh ? new SysvMsg() : stack; }

void sysv_send(int q, long id, long type) {
    SysvMsg stack{};
    SysvMsg* m = sysv_buffer(&stack);
    m->mtype = type;
    const std::string b = body_of(id);
    std::memcpy(m->text, b.data(), b.size());
    if (do_msgsnd(q, m, b.size(), 0) == 0) log_msg('S', id, m);
}

long sysv_receive(int q, long typ, int flags, char kind = 'R') {
    SysvMsg stack{};
    SysvMsg* m = sysv_buffer(&stack);
    const long n = do_msgrcv(q, m, sizeof m->text, typ, flags);
    if (n > 0) log_msg(kind, id_in(m->text, n), m);
    return n;
}

int flows(const std::string& tag) {
    constexpr long kN = 200;
    // POSIX, two threads: the consumer blocks first (a send hands the message
    // over), then the producer outruns it and blocks on the full queue (a
    // receive lets the waiting sender's message in); four priorities.
    const std::string p1 = "/mqt-" + tag + "-p1";
    int fd = posix_queue(p1, 4);
    std::thread consumer([&] {
        for (long i = 0; i < kN; ++i)
            posix_receive(fd);
    });
    usleep(20000);
    for (long i = 0; i < kN; ++i)
        posix_send(fd, 1000 + i, static_cast<unsigned>(i % 4));
    consumer.join();
    posix_receive(static_cast<int>(do_mq_open(p1.c_str(), O_RDONLY | O_NONBLOCK, 0, nullptr)),
                  false); // EAGAIN
    // Queued first, then drained: the highest priority first, FIFO within one.
    for (long i = 0; i < 4; ++i) // the queue holds 4
        posix_send(fd, 2000 + i, static_cast<unsigned>((i * 5) % 3));
    for (long i = 0; i < 4; ++i)
        posix_receive(fd);
    // Two consumers on one queue: which took which may be ambiguous, never wrong.
    std::vector<std::thread> two;
    for (int t = 0; t < 2; ++t)
        two.emplace_back([&] {
            for (long i = 0; i < kN / 4; ++i)
                posix_receive(fd);
        });
    for (long i = 0; i < kN / 2; ++i)
        posix_send(fd, 3000 + i, static_cast<unsigned>(i % 2));
    for (auto& t : two)
        t.join();
    // Processes: a producer and a consumer forked, each opening the queue by name.
    const std::string p2 = "/mqt-" + tag + "-p2";
    close(posix_queue(p2, 8));
    std::fflush(stdout);
    pid_t kids[2];
    for (int k = 0; k < 2; ++k) {
        kids[k] = fork();
        if (kids[k] == 0) {
            const int q = static_cast<int>(do_mq_open(p2.c_str(), O_RDWR, 0, nullptr));
            for (long i = 0; i < kN / 2; ++i)
                k == 0 ? posix_send(q, 4000 + i, static_cast<unsigned>(i % 3)) : (void)posix_receive(q);
            usleep(1000000); // alive when the tracer asks which IPC namespace it is in
            _exit(0);
        }
    }
    for (pid_t k : kids)
        waitpid(k, nullptr, 0);
    do_mq_unlink(p1.c_str());
    do_mq_unlink(p2.c_str());

    // System V, two threads: batches of types 1 to 4, received with msgtyp 3,
    // -2 (the lowest type up to 2), 1 with MSG_EXCEPT, and 0.
    const int q = static_cast<int>(do_msgget(IPC_PRIVATE, IPC_CREAT | 0600));
    std::thread sysv_consumer([&] {
        for (long b = 0; b < kN / 4; ++b) {
            sysv_receive(q, 3, 0);
            sysv_receive(q, -2, 0);
            sysv_receive(q, 1, MSG_EXCEPT);
            sysv_receive(q, 0, 0);
        }
    });
    for (long b = 0; b < kN / 4; ++b)
        for (long t = 1; t <= 4; ++t)
            sysv_send(q, 5000 + b * 4 + t, t);
    sysv_consumer.join();
    sysv_receive(q, 0, IPC_NOWAIT); // ENOMSG: the queue is empty
    // MSG_COPY of the second of three messages, then all three taken.
    for (long i = 0; i < 3; ++i)
        sysv_send(q, 6000 + i, 7);
    sysv_receive(q, 1, MSG_COPY | IPC_NOWAIT, 'C');
    for (long i = 0; i < 3; ++i)
        sysv_receive(q, 0, 0);
    // Processes: a forked producer and consumer.
    std::fflush(stdout);
    for (int k = 0; k < 2; ++k) {
        kids[k] = fork();
        if (kids[k] == 0) {
            for (long i = 0; i < kN / 2; ++i)
                k == 0 ? sysv_send(q, 7000 + i, 1 + i % 5) : (void)sysv_receive(q, 0, 0);
            usleep(1000000);
            _exit(0);
        }
    }
    for (pid_t k : kids)
        waitpid(k, nullptr, 0);
    do_msgctl(q, IPC_RMID, nullptr);
    linger();
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; ++i) {
        if (std::strcmp(argv[i], "--raw") == 0)
            g_raw = true;
        else if (std::strcmp(argv[i], "--linger") == 0 && i + 1 < argc)
            g_linger_ms = std::atoi(argv[++i]);
        else if (std::strcmp(argv[i], "--wait-file") == 0 && i + 1 < argc)
            g_wait_file = argv[++i];
        else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            g_threads = std::max(1, std::atoi(argv[++i]));
        else if (std::strcmp(argv[i], "--pace") == 0 && i + 1 < argc)
            g_pace_us = std::max(0, std::atoi(argv[++i]));
        else if (std::strcmp(argv[i], "--fresh") == 0)
            g_fresh = true;
        else
            break;
    }
    if (argc - i >= 2 && std::strcmp(argv[i], "reuse") == 0) return reuse(argv[i + 1]); // waits itself
    if (argc - i >= 2 && std::strcmp(argv[i], "depth") == 0) return depth(argv[i + 1]); // waits itself
    wait_go();
    if (argc - i >= 2 && std::strcmp(argv[i], "all") == 0) return all(argv[i + 1]);
    if (argc - i >= 2 && std::strcmp(argv[i], "open") == 0) return open_hex(argv[i + 1]);
    if (argc - i >= 3 && std::strcmp(argv[i], "race") == 0) return race(argv[i + 1], std::atoi(argv[i + 2]));
    if (argc - i >= 2 && std::strcmp(argv[i], "block") == 0) return block(argv[i + 1]);
    if (argc - i >= 3 && std::strcmp(argv[i], "crowd") == 0)
        return crowd(argv[i + 1], std::atoi(argv[i + 2]));
    if (argc - i >= 2 && std::strcmp(argv[i], "flows") == 0) return flows(argv[i + 1]);
    if (argc - i >= 2 && std::strcmp(argv[i], "errors") == 0) return errors(argv[i + 1]);
    if (argc - i >= 3 && std::strcmp(argv[i], "poison") == 0)
        return poison(argv[i + 1], std::atoi(argv[i + 2]));
    if (argc - i >= 3 && std::strcmp(argv[i], "flood") == 0)
        return flood(argv[i + 1], std::atol(argv[i + 2]));
    std::fprintf(stderr, "usage: mqworkload [--raw] [--linger MS] all TAG | open NAME_HEX | race TAG N | "
                         "block TAG | crowd TAG N | flows TAG | depth TAG | errors TAG | flood TAG N | "
                         "poison TAG N | reuse TAG\n");
    return 2;
}
