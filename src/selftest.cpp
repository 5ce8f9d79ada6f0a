// Canary calls and their expected decodings. See include/mqtrace/selftest.hpp.
#include "mqtrace/selftest.hpp"

#include "mqtrace/catalog.hpp"

#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <sys/msg.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace mqtrace {
namespace {

// Canary arguments live in static storage: the syscalls backend may read them
// from our memory after the call returns.
const struct timespec kTimeout { 1, 2 };
const struct sigevent kSigev = [] {
    struct sigevent s {};
    s.sigev_notify = SIGEV_NONE;
    s.sigev_signo = SIGUSR1;
    return s;
}();
const struct mq_attr kNewattr {
    O_NONBLOCK, 0, 0, 0, {}
};
const struct {
    long mtype;
    char mtext[8];
} kMsg{7, "canary"};
constexpr long kMsgtyp = 5;

std::string expect(bool ok, const std::string& what) { return ok ? "" : what; }

} // namespace

Canaries::Canaries()
    : name_("mqtrace-canary-" + std::to_string(getpid())), path_("/" + name_),
      key_(static_cast<int>(0x6d710000u | (static_cast<unsigned>(getpid()) & 0xffffu))) {}

void Canaries::call(const std::vector<int>& events) const {
    const int saved = errno;
    for (int idx : events) {
        const std::string_view ev = catalog()[idx].name;
        // mq_open and mq_unlink go through libc: its wrappers are what the
        // syscalls backend's uprobes watch. The rest are raw syscalls with
        // arguments the kernel rejects before touching any queue.
        if (ev == "mq_open")
            mq_open(path_.c_str(), O_RDONLY);
        else if (ev == "mq_unlink")
            mq_unlink(path_.c_str());
        else if (ev == "mq_timedsend")
            syscall(SYS_mq_timedsend, -1, kMsg.mtext, 0, 0, &kTimeout);
        else if (ev == "mq_timedreceive")
            syscall(SYS_mq_timedreceive, -1, nullptr, 0, nullptr, &kTimeout);
        else if (ev == "mq_notify")
            syscall(SYS_mq_notify, -1, &kSigev);
        else if (ev == "mq_getsetattr")
            syscall(SYS_mq_getsetattr, -1, &kNewattr, nullptr);
        else if (ev == "msgget")
            syscall(SYS_msgget, key_, 0);
        else if (ev == "msgsnd")
            syscall(SYS_msgsnd, -1, &kMsg, 0, IPC_NOWAIT);
        else if (ev == "msgrcv")
            syscall(SYS_msgrcv, -1, nullptr, 0, kMsgtyp, IPC_NOWAIT);
        else if (ev == "msgctl")
            syscall(SYS_msgctl, -1, IPC_STAT, nullptr);
    }
    errno = saved;
}

std::string Canaries::check(const Call& c, Source name_src) const {
    const EventSpec& ev = catalog()[c.ev];
    if (c.end != CallEnd::Returned) return "no return seen";
    auto arg = [&](std::string_view n) -> const ArgValue& { return c.args.at(arg_index(ev, n)); };
    auto num = [&](std::string_view n, std::int64_t v) {
        const ArgValue& a = arg(n);
        return expect(a.present && a.raw == v, std::string(n) + " != " + std::to_string(v));
    };
    auto member = [&](std::string_view n, std::size_t m, std::int64_t v) {
        const ArgValue& a = arg(n);
        return expect(a.content == Content::Struct && m < a.members.size() && a.members[m] == v,
                      std::string(n) + " content not as called");
    };
    auto ret = [&](std::int64_t v) {
        return expect(c.ret == v, "returned " + std::to_string(c.ret) + ", expected " + std::to_string(v));
    };
    std::string err;
    auto all = [&](std::initializer_list<std::string> parts) {
        for (const auto& p : parts)
            if (!p.empty()) return p;
        return std::string();
    };
    const std::string_view n = ev.name;
    if (n == "mq_open" || n == "mq_unlink") {
        const ArgValue& a = arg("name");
        if (a.content != Content::Str || a.str != name_) return "name not decoded as called";
        if (a.src != name_src)
            return std::string("name came from ") + source_name(a.src) + ", expected " +
                   source_name(name_src);
        return n == "mq_open" ? all({num("oflag", O_RDONLY), ret(-ENOENT)}) : ret(-ENOENT);
    }
    if (n == "mq_timedsend" || n == "mq_timedreceive")
        return all({num("mqdes", -1), num("msg_len", 0), member("abs_timeout", 0, 1),
                    member("abs_timeout", 1, 2), ret(-EBADF)});
    if (n == "mq_notify")
        return all(
            {num("mqdes", -1), member("sevp", 1, SIGUSR1), member("sevp", 2, SIGEV_NONE), ret(-EBADF)});
    if (n == "mq_getsetattr")
        return all({num("mqdes", -1), member("newattr", 0, O_NONBLOCK), num("oldattr", 0), ret(-EBADF)});
    if (n == "msgget") {
        // The key may exist by chance; only the arguments are certain.
        return all({num("key", key_), num("msgflg", 0)});
    }
    if (n == "msgsnd")
        return all({num("msqid", -1), member("msgp", 0, kMsg.mtype), num("msgsz", 0),
                    num("msgflg", IPC_NOWAIT), ret(-EINVAL)});
    if (n == "msgrcv")
        return all({num("msqid", -1), num("msgtyp", kMsgtyp), num("msgflg", IPC_NOWAIT), ret(-EINVAL)});
    if (n == "msgctl") return all({num("msqid", -1), num("cmd", IPC_STAT), ret(-EINVAL)});
    return "unknown event";
}

} // namespace mqtrace
