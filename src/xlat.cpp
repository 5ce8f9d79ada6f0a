// Flag and constant tables. See include/mqtrace/xlat.hpp.
#include "mqtrace/xlat.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace mqtrace {
namespace {

struct Xlat {
    std::uint64_t value;
    std::string_view name;
};

// The values come from the system headers (the kernel's ABI, as the C
// library exports it), never re-typed; X(NAME) pairs a constant with its name.
#define X(name)                                                                                              \
    Xlat { static_cast<std::uint64_t>(name), #name }
// O_LARGEFILE is 0 in the C library's 64-bit headers (every open is large
// there), but the kernel still has the bit and strace names it; <asm/fcntl.h>,
// which has it, clashes with <fcntl.h>.
#if defined(__x86_64__) || defined(__i386__)
constexpr std::uint64_t kOLargefile = 0100000;
#elif defined(__aarch64__) || defined(__arm__)
constexpr std::uint64_t kOLargefile = 0400000;
#else
constexpr std::uint64_t kOLargefile = O_LARGEFILE; // 0 where unknown: flags() skips it
#endif
// strace's open_mode_flags, in its order (which is the order of the names it
// prints): O_SYNC (__O_SYNC|O_DSYNC) before __O_SYNC and O_DSYNC, O_TMPFILE
// (__O_TMPFILE|O_DIRECTORY) before O_DIRECTORY.
constexpr std::array kOpenFlags{X(O_CREAT),
                                X(O_EXCL),
                                X(O_NOCTTY),
                                X(O_TRUNC),
                                X(O_APPEND),
                                X(O_NONBLOCK),
                                X(O_SYNC),
                                Xlat{O_SYNC & ~O_DSYNC, "__O_SYNC"},
                                X(O_DSYNC),
                                X(O_DIRECT),
                                Xlat{kOLargefile, "O_LARGEFILE"},
                                X(O_NOFOLLOW),
                                X(O_NOATIME),
                                X(O_CLOEXEC),
                                X(O_PATH),
                                X(O_TMPFILE),
                                X(O_DIRECTORY),
                                X(FASYNC)};
// mq_attr.mq_flags: the kernel knows O_NONBLOCK only (strace's mq_attr_flags).
constexpr std::array kMqFlags{X(O_NONBLOCK)};
constexpr std::array kIpcFlags{X(IPC_CREAT), X(IPC_EXCL), X(IPC_NOWAIT)};
// In strace's order (ipc_msg_flags): MSG_NOERROR|IPC_NOWAIT.
constexpr std::array kMsgFlags{X(MSG_NOERROR), X(MSG_EXCEPT), X(MSG_COPY), X(IPC_NOWAIT)};
constexpr std::array kMsgctlCmds{X(IPC_RMID), X(IPC_SET),  X(IPC_STAT),    X(IPC_INFO),
                                 X(MSG_STAT), X(MSG_INFO), X(MSG_STAT_ANY)};
constexpr std::array kSigevNotify{X(SIGEV_SIGNAL), X(SIGEV_NONE), X(SIGEV_THREAD), X(SIGEV_THREAD_ID)};
#undef X
// IPC_64 is in <linux/ipc.h> only, which clashes with <sys/ipc.h>.
constexpr std::uint64_t kIpc64 = 0x0100;

std::string hex(std::uint64_t v) {
    char b[32];
    std::snprintf(b, sizeof b, "%#llx", static_cast<unsigned long long>(v));
    return b;
}

// strace's print_numeric_umode_t: "%#03o", so 0 is "000" and 0600 is "0600".
std::string octal(std::uint64_t v) {
    char b[32];
    std::snprintf(b, sizeof b, "%#03llo", static_cast<unsigned long long>(v));
    return b;
}

// "A|B|0x40" for the bits of v named in table; "" when v is 0.
template <std::size_t N> std::string flags(std::uint64_t v, const std::array<Xlat, N>& table) {
    std::string out;
    for (const auto& x : table)
        if (x.value != 0 && (v & x.value) == x.value) {
            if (!out.empty()) out += '|';
            out += x.name;
            v &= ~x.value;
        }
    if (v) {
        if (!out.empty()) out += '|';
        out += hex(v);
    }
    return out;
}

template <std::size_t N> std::string value(std::uint64_t v, const std::array<Xlat, N>& table) {
    for (const auto& x : table)
        if (x.value == v) return std::string(x.name);
    return std::to_string(static_cast<std::int64_t>(v));
}

std::string open_flags(std::uint64_t v) {
    static_assert(O_RDONLY == 0 && O_WRONLY == 1 && O_RDWR == 2 && O_ACCMODE == 3);
    static constexpr std::array<std::string_view, 4> acc{"O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"};
    std::string out(acc[v & O_ACCMODE]);
    std::string rest = flags(v & ~std::uint64_t{O_ACCMODE}, kOpenFlags);
    if (!rest.empty()) out += "|" + rest;
    return out;
}

} // namespace

std::string render_scalar(Decode d, std::int64_t v) {
    const auto u = static_cast<std::uint64_t>(v);
    switch (d) {
    case Decode::Int:
    case Decode::Fd: return std::to_string(v);
    case Decode::UInt: return std::to_string(u);
    case Decode::Ptr:
    case Decode::Struct: return u == 0 ? "NULL" : hex(u);
    case Decode::OpenFlags: return open_flags(u);
    case Decode::Mode: return octal(u);
    case Decode::MqFlags: return u == 0 ? "0" : flags(u, kMqFlags);
    case Decode::Signal: {
        // As strace names them: the C library's names below the real-time
        // signals, but SIGIO where glibc says POLL (the same number); the
        // kernel's first real-time signal SIGRTMIN, then SIGRT_1 to SIGRT_32
        // (glibc's own SIGRTMIN, 34, is a function of the C library).
        if (v == SIGIO) return "SIGIO";
        const char* ab = (v > 0 && v < __SIGRTMIN) ? sigabbrev_np(static_cast<int>(v)) : nullptr;
        if (ab) return std::string("SIG") + ab;
        if (v == __SIGRTMIN) return "SIGRTMIN";
        if (v > __SIGRTMIN && v <= __SIGRTMAX) return "SIGRT_" + std::to_string(v - __SIGRTMIN);
        return std::to_string(v);
    }
    case Decode::SigevNotify: return value(u, kSigevNotify);
    case Decode::IpcKey: return u == IPC_PRIVATE ? "IPC_PRIVATE" : hex(static_cast<std::uint32_t>(u));
    case Decode::MsggetFlags: {
        std::string f = flags(u & ~std::uint64_t{0777}, kIpcFlags);
        return f.empty() ? octal(u & 0777) : f + "|" + octal(u & 0777);
    }
    case Decode::MsgFlags: {
        std::string f = flags(u, kMsgFlags);
        return f.empty() ? "0" : f;
    }
    case Decode::MsgctlCmd: {
        const std::string cmd = value(u & ~kIpc64, kMsgctlCmds);
        return (u & kIpc64) ? "IPC_64|" + cmd : cmd;
    }
    case Decode::Name: return hex(u);
    }
    return std::to_string(v);
}

// Kernel-internal codes a syscall can return to a tracer (never to the caller):
// a call interrupted by a signal, seen at its return probe.
constexpr std::array kKernelErrnos{Xlat{512, "ERESTARTSYS"}, Xlat{513, "ERESTARTNOINTR"},
                                   Xlat{514, "ERESTARTNOHAND"}, Xlat{515, "ENOIOCTLCMD"},
                                   Xlat{516, "ERESTART_RESTARTBLOCK"}};

std::string_view known_errno_name(int err) {
    // The C library's names of the numbers a syscall returns, looked up once.
    static const std::array<std::string_view, 512> kNames = [] {
        std::array<std::string_view, 512> t{};
        for (int e = 0; e < static_cast<int>(t.size()); ++e)
            if (const char* n = strerrorname_np(e)) t[static_cast<std::size_t>(e)] = n;
        return t;
    }();
    if (err >= 0 && err < static_cast<int>(kNames.size())) return kNames[static_cast<std::size_t>(err)];
    if (const char* n = strerrorname_np(err)) return n;
    for (const auto& x : kKernelErrnos)
        if (x.value == static_cast<std::uint64_t>(err)) return x.name;
    return {};
}

std::string errno_name(int err) {
    const std::string_view n = known_errno_name(err);
    return n.empty() ? "E" + std::to_string(err) : std::string(n);
}

} // namespace mqtrace
