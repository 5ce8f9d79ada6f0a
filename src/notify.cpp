// systemd notification. See include/mqtrace/notify.hpp.
#include "mqtrace/notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace mqtrace {
namespace {

struct State {
    std::string address;       // NOTIFY_SOCKET, "" when not run by systemd
    long long watchdog_us = 0; // WATCHDOG_USEC for this process, 0: none
    long long interval_ms = kNotifyIntervalMs;
    long long next_ms = 0;
    std::string prefix;
};

State& state() {
    static State s;
    return s;
}

long long now_ms() {
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
    return static_cast<long long>(t.tv_sec) * 1000 + t.tv_nsec / 1000000;
}

void send(std::string_view message, bool wait) {
    State& s = state();
    if (s.address.empty()) return;
    std::string m(message);
    if (s.watchdog_us > 0) m += "\nWATCHDOG=1";
    notify_to(s.address, m, wait);
}

} // namespace

bool notify_to(const std::string& address, std::string_view message, bool wait) {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (address.size() < 2 || address.size() >= sizeof sa.sun_path ||
        (address[0] != '/' && address[0] != '@'))
        return false; // vsock and other addresses of newer systemd versions are not spoken here
    std::memcpy(sa.sun_path, address.data(), address.size());
    if (sa.sun_path[0] == '@') sa.sun_path[0] = '\0'; // abstract namespace
    const socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size());
    static int fd = -1;
    if (fd < 0) fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    const ssize_t n = sendto(fd, message.data(), message.size(), MSG_NOSIGNAL | (wait ? 0 : MSG_DONTWAIT),
                             reinterpret_cast<const sockaddr*>(&sa), len);
    return n == static_cast<ssize_t>(message.size());
}

void notify_init() {
    State& s = state();
    if (const char* a = std::getenv("NOTIFY_SOCKET")) s.address = a;
    // The watchdog is ours only if WATCHDOG_PID is unset or names this process.
    const char* pid = std::getenv("WATCHDOG_PID");
    if (const char* us = std::getenv("WATCHDOG_USEC"); us && (!pid || std::atol(pid) == getpid()))
        s.watchdog_us = std::atoll(us);
    if (s.watchdog_us > 0 && s.watchdog_us / 2000 < s.interval_ms) s.interval_ms = s.watchdog_us / 2000;
    if (s.interval_ms < 1) s.interval_ms = 1;
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
}

bool notify_enabled() { return !state().address.empty(); }

void notify_ready(std::string prefix) {
    State& s = state();
    if (s.address.empty()) return;
    s.prefix = std::move(prefix);
    send("READY=1\nSTATUS=" + s.prefix + "0 calls, 0 written, 0 lost", true);
    s.next_ms = now_ms() + s.interval_ms;
}

bool notify_due() {
    State& s = state();
    return !s.address.empty() && s.next_ms != 0 && now_ms() >= s.next_ms;
}

void notify_status(std::string_view counts) {
    State& s = state();
    if (s.address.empty()) return;
    send("STATUS=" + s.prefix + std::string(counts), false);
    s.next_ms = now_ms() + s.interval_ms;
}

void notify_stopping(std::string_view counts) {
    State& s = state();
    if (s.address.empty()) return;
    send("STOPPING=1\nSTATUS=Stopping: " + std::string(counts), true);
    s.next_ms = 0; // no status after this
}

} // namespace mqtrace
