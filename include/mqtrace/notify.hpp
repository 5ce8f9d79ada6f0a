// Service readiness for systemd (Type=notify): the sd_notify(3) datagram
// protocol, written here (it is a few lines) so that it works in builds
// without libsystemd and so that NOTIFY_SOCKET can be taken out of the
// environment before a traced command is started. Everything is a no-op
// unless NOTIFY_SOCKET was set.
//   READY=1      once tracing is live (when "Tracing" is printed)
//   STATUS=...   then every kNotifyIntervalMs: calls, written, lost
//   WATCHDOG=1   with each status, when the service has WatchdogSec=
//   STOPPING=1   when the run ends (before the last reads and the teardown)
#pragma once

#include <string>
#include <string_view>

namespace mqtrace {

inline constexpr int kNotifyIntervalMs = 5000;

// Takes NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from the environment
// and removes them (a command mqtrace runs does not inherit them).
void notify_init();
bool notify_enabled();
// Tracing is live: READY=1 and STATUS=<prefix>0 calls...; the prefix stays
// in front of every later status ("Tracing 10 syscalls (syscalls backend): ").
void notify_ready(std::string prefix);
// Cheap: true when the next status (and watchdog ping) is due.
bool notify_due();
void notify_status(std::string_view counts);
template <typename F> void notify_tick(F&& counts) {
    if (notify_due()) notify_status(counts());
}
void notify_stopping(std::string_view counts);

// One datagram to a NOTIFY_SOCKET address ("/path" or "@abstract"); false if
// it could not be sent. Exposed for tests.
bool notify_to(const std::string& address, std::string_view message, bool wait = true);

} // namespace mqtrace
