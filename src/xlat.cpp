// Flag and constant tables. See include/mqtrace/xlat.hpp.
#include "mqtrace/xlat.hpp"

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

constexpr std::array kOpenFlags{
    Xlat{0100, "O_CREAT"},   Xlat{0200, "O_EXCL"},      Xlat{0400, "O_NOCTTY"},      Xlat{01000, "O_TRUNC"},
    Xlat{02000, "O_APPEND"}, Xlat{04000, "O_NONBLOCK"}, Xlat{02000000, "O_CLOEXEC"},
};
constexpr std::array kIpcFlags{Xlat{01000, "IPC_CREAT"}, Xlat{02000, "IPC_EXCL"}, Xlat{04000, "IPC_NOWAIT"}};
constexpr std::array kMsgFlags{Xlat{04000, "IPC_NOWAIT"}, Xlat{010000, "MSG_NOERROR"},
                               Xlat{020000, "MSG_EXCEPT"}, Xlat{040000, "MSG_COPY"}};
constexpr std::array kMsgctlCmds{Xlat{0, "IPC_RMID"},     Xlat{1, "IPC_SET"},   Xlat{2, "IPC_STAT"},
                                 Xlat{3, "IPC_INFO"},     Xlat{11, "MSG_STAT"}, Xlat{12, "MSG_INFO"},
                                 Xlat{13, "MSG_STAT_ANY"}};
constexpr std::array kSigevNotify{Xlat{0, "SIGEV_SIGNAL"}, Xlat{1, "SIGEV_NONE"}, Xlat{2, "SIGEV_THREAD"},
                                  Xlat{4, "SIGEV_THREAD_ID"}};

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
        if ((v & x.value) == x.value) {
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
    static constexpr std::array<std::string_view, 4> acc{"O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"};
    std::string out(acc[v & 3]);
    std::string rest = flags(v & ~std::uint64_t{3}, kOpenFlags);
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
    case Decode::MqFlags: return u == 0 ? "0" : flags(u, kOpenFlags);
    case Decode::Signal: {
        const char* ab = (v > 0 && v < 65) ? sigabbrev_np(static_cast<int>(v)) : nullptr;
        return ab ? std::string("SIG") + ab : std::to_string(v);
    }
    case Decode::SigevNotify: return value(u, kSigevNotify);
    case Decode::IpcKey: return u == 0 ? "IPC_PRIVATE" : hex(static_cast<std::uint32_t>(u));
    case Decode::MsggetFlags: {
        std::string f = flags(u & ~std::uint64_t{0777}, kIpcFlags);
        return f.empty() ? octal(u & 0777) : f + "|" + octal(u & 0777);
    }
    case Decode::MsgFlags: {
        std::string f = flags(u, kMsgFlags);
        return f.empty() ? "0" : f;
    }
    case Decode::MsgctlCmd: {
        const std::string cmd = value(u & ~std::uint64_t{0x100}, kMsgctlCmds);
        return (u & 0x100) ? "IPC_64|" + cmd : cmd;
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

std::string errno_name(int err) {
    if (const char* n = strerrorname_np(err)) return n;
    for (const auto& x : kKernelErrnos)
        if (x.value == static_cast<std::uint64_t>(err)) return std::string(x.name);
    return "E" + std::to_string(err);
}

} // namespace mqtrace
