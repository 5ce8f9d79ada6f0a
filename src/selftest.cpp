// Canary calls and their expected decodings. See include/mqtrace/selftest.hpp.
#include "mqtrace/selftest.hpp"

#include "mqtrace/catalog.hpp"

#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <sys/msg.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <ctime>

namespace mqtrace {
namespace {

// Canary arguments live in static storage: the syscalls backend may read them
// from our memory after the call returns.
const struct timespec kTimeout { 1, 2 };
const struct timespec kBadTimeout { 1, 1000000000 }; // tv_nsec out of range: EINVAL
const struct sigevent kSigev = [] {
    struct sigevent s {};
    s.sigev_notify = SIGEV_NONE;
    s.sigev_signo = SIGUSR1;
    return s;
}();
const struct mq_attr kNewattr {
    O_NONBLOCK, 0, 0, 0, {}
};
const struct mq_attr kAttr {
    0, 3, 17, 0, {}
};
const struct {
    long mtype;
    char mtext[8];
} kMsg{7, "canary"};
constexpr long kMsgtyp = 5;
// Never mapped (below mmap_min_addr): the kernel's copy from it fails.
void* const kBad = reinterpret_cast<void*>(16);

struct Spec {
    std::string_view event;
    CanaryKind kind;
    std::string_view what;
};
constexpr std::array kCanaries{
    Spec{"mq_open", CanaryKind::Libc, "mq_open through libc"},
    Spec{"mq_open", CanaryKind::Value, "mq_open with attr"},
    Spec{"mq_open", CanaryKind::Fault, "unreadable attr"},
    Spec{"mq_unlink", CanaryKind::Libc, "mq_unlink through libc"},
    Spec{"mq_unlink", CanaryKind::Fault, "unreadable name"},
    Spec{"mq_timedsend", CanaryKind::Value, "timeout"},
    Spec{"mq_timedsend", CanaryKind::Fault, "unreadable abs_timeout"},
    Spec{"mq_timedsend", CanaryKind::Invalid, "invalid abs_timeout"},
    Spec{"mq_timedreceive", CanaryKind::Value, "timeout"},
    Spec{"mq_timedreceive", CanaryKind::Fault, "unreadable abs_timeout"},
    Spec{"mq_timedreceive", CanaryKind::Invalid, "invalid abs_timeout"},
    Spec{"mq_notify", CanaryKind::Value, "sigevent"},
    Spec{"mq_notify", CanaryKind::Fault, "unreadable sevp"},
    Spec{"mq_getsetattr", CanaryKind::Value, "newattr"},
    Spec{"mq_getsetattr", CanaryKind::Fault, "unreadable newattr"},
    Spec{"msgget", CanaryKind::Value, "key"},
    Spec{"msgsnd", CanaryKind::Value, "mtype"},
    Spec{"msgsnd", CanaryKind::Fault, "unreadable msgp"},
    Spec{"msgrcv", CanaryKind::Value, "msgtyp"},
    Spec{"msgctl", CanaryKind::Value, "cmd"},
};

// The struct or name argument a Fault or Invalid canary passes badly.
std::string_view bad_arg(std::string_view ev) {
    if (ev == "mq_open") return "attr";
    if (ev == "mq_unlink") return "name";
    if (ev == "mq_notify") return "sevp";
    if (ev == "mq_getsetattr") return "newattr";
    if (ev == "msgsnd") return "msgp";
    return "abs_timeout";
}

} // namespace

Canaries::Canaries()
    : name_("mqtrace-canary-" + std::to_string(getpid())), path_("/" + name_),
      key_(static_cast<int>(0x6d710000u | (static_cast<unsigned>(getpid()) & 0xffffu))) {}

std::vector<Canary> Canaries::of(const std::vector<int>& events) {
    std::vector<Canary> out;
    for (const auto& k : kCanaries)
        for (int e : events)
            if (catalog()[e].name == k.event) out.push_back(Canary{e, k.kind, k.what});
    return out;
}

void Canaries::call(const std::vector<Canary>& canaries) const {
    const int saved = errno;
    for (const auto& k : canaries) {
        const std::string_view ev = catalog()[k.ev].name;
        const bool fault = k.kind == CanaryKind::Fault;
        // mq_open and mq_unlink through libc: its wrappers are what the
        // syscalls backend's uprobes watch. The rest are raw syscalls with
        // arguments the kernel rejects before touching any queue.
        if (ev == "mq_open") {
            if (k.kind == CanaryKind::Libc)
                mq_open(path_.c_str(), O_RDONLY);
            else
                syscall(SYS_mq_open, name_.c_str(), O_RDONLY, 0, fault ? kBad : &kAttr);
        } else if (ev == "mq_unlink") {
            if (k.kind == CanaryKind::Libc)
                mq_unlink(path_.c_str());
            else
                syscall(SYS_mq_unlink, kBad);
        } else if (ev == "mq_timedsend" || ev == "mq_timedreceive") {
            const void* t = fault ? kBad : k.kind == CanaryKind::Invalid ? &kBadTimeout : &kTimeout;
            if (ev == "mq_timedsend")
                syscall(SYS_mq_timedsend, -1, kMsg.mtext, 0, 0, t);
            else
                syscall(SYS_mq_timedreceive, -1, nullptr, 0, nullptr, t);
        } else if (ev == "mq_notify") {
            syscall(SYS_mq_notify, -1, fault ? kBad : &kSigev);
        } else if (ev == "mq_getsetattr") {
            syscall(SYS_mq_getsetattr, -1, fault ? kBad : &kNewattr, nullptr);
        } else if (ev == "msgget") {
            syscall(SYS_msgget, key_, 0);
        } else if (ev == "msgsnd") {
            syscall(SYS_msgsnd, -1, fault ? kBad : &kMsg, 0, IPC_NOWAIT);
        } else if (ev == "msgrcv") {
            syscall(SYS_msgrcv, -1, nullptr, 0, kMsgtyp, IPC_NOWAIT);
        } else if (ev == "msgctl") {
            syscall(SYS_msgctl, -1, IPC_STAT, nullptr);
        }
    }
    errno = saved;
}

std::string Canaries::check(const Canary& k, const Call& c, const CanarySources& src) const {
    const EventSpec& ev = catalog()[c.ev];
    if (c.end != CallEnd::Returned) return "no return seen";
    auto arg = [&](std::string_view n) -> const ArgValue& { return c.args.at(arg_index(ev, n)); };
    auto fail = [&](const std::string& what) { return std::string(k.what) + ": " + what; };
    auto num = [&](std::string_view n, std::int64_t v) -> std::string {
        const ArgValue& a = arg(n);
        return a.present && a.raw == v ? "" : fail(std::string(n) + " != " + std::to_string(v));
    };
    auto members = [&](std::string_view n, std::initializer_list<std::pair<std::size_t, std::int64_t>> want,
                       Source from) -> std::string {
        const ArgValue& a = arg(n);
        if (a.content != Content::Struct) return fail(std::string(n) + " not decoded");
        for (const auto& [m, v] : want)
            if (m >= a.members.size() || a.members[m] != v) return fail(std::string(n) + " not as called");
        if (a.src != from)
            return fail(std::string(n) + " came from " + source_name(a.src) + ", expected " +
                        source_name(from));
        if (a.verify == Verify::Mismatch) return fail(std::string(n) + ": the kernel's copy differs");
        return "";
    };
    auto ret = [&](int err) -> std::string {
        return c.ret == -err
                   ? ""
                   : fail("returned " + std::to_string(c.ret) + ", expected " + std::to_string(-err));
    };
    auto all = [](std::initializer_list<std::string> parts) {
        for (const auto& p : parts)
            if (!p.empty()) return p;
        return std::string();
    };
    const std::string_view n = ev.name;
    if (k.kind == CanaryKind::Fault) {
        // Seen, with its EFAULT, the bad address, and no value made up for it.
        const ArgValue& a = arg(bad_arg(n));
        if (!a.present || a.raw != static_cast<std::int64_t>(reinterpret_cast<std::uintptr_t>(kBad)))
            return fail("address not as called");
        if (a.content == Content::Struct || a.content == Content::Str) return fail("a value shown for it");
        return ret(EFAULT);
    }
    if (k.kind == CanaryKind::Invalid)
        return all({members(bad_arg(n), {{0, kBadTimeout.tv_sec}, {1, kBadTimeout.tv_nsec}}, src.rejected),
                    ret(EINVAL)});
    if (n == "mq_open" || n == "mq_unlink") {
        if (k.kind == CanaryKind::Value)
            return all({num("oflag", O_RDONLY),
                        members("attr", {{1, kAttr.mq_maxmsg}, {2, kAttr.mq_msgsize}}, src.reached),
                        ret(ENOENT)});
        const ArgValue& a = arg("name");
        if (a.content != Content::Str || a.str != name_) return fail("name not decoded as called");
        if (a.src != src.name)
            return fail(std::string("name came from ") + source_name(a.src) + ", expected " +
                        source_name(src.name));
        if (a.verify == Verify::Mismatch) return fail("name: the kernel's copy differs");
        return n == "mq_open" ? all({num("oflag", O_RDONLY), ret(ENOENT)}) : ret(ENOENT);
    }
    if (n == "mq_timedsend" || n == "mq_timedreceive")
        return all({num("mqdes", -1), num("msg_len", 0),
                    members("abs_timeout", {{0, 1}, {1, 2}}, src.reached), ret(EBADF)});
    if (n == "mq_notify")
        return all(
            {num("mqdes", -1), members("sevp", {{1, SIGUSR1}, {2, SIGEV_NONE}}, src.reached), ret(EBADF)});
    if (n == "mq_getsetattr")
        return all({num("mqdes", -1), members("newattr", {{0, O_NONBLOCK}}, src.reached), num("oldattr", 0),
                    ret(EBADF)});
    if (n == "msgget") return all({num("key", key_), num("msgflg", 0)}); // the key may exist by chance
    if (n == "msgsnd")
        return all({num("msqid", -1), members("msgp", {{0, kMsg.mtype}}, src.reached), num("msgsz", 0),
                    num("msgflg", IPC_NOWAIT), ret(EINVAL)});
    if (n == "msgrcv")
        return all({num("msqid", -1), num("msgtyp", kMsgtyp), num("msgflg", IPC_NOWAIT), ret(EINVAL)});
    if (n == "msgctl") return all({num("msqid", -1), num("cmd", IPC_STAT), ret(EINVAL)});
    return "unknown event";
}

} // namespace mqtrace
