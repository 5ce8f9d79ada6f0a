// Depth at start (-c/-C): how full each queue of mqtrace's IPC namespace was
// just before tracing began. POSIX queues from the mqueue file system (the
// file's QSIZE: bytes; mq_getattr on it: messages), mounted for the reading
// in a mount namespace of a short-lived thread of our own when the system
// has none mounted (nothing outside it sees the mount); System V queues from
// /proc/sysvipc/msg (cbytes, qnum). Other IPC namespaces' queues are not
// visible from here: theirs stays unknown.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace mqtrace {

struct StartDepth {
    std::int64_t messages = -1, bytes = -1; // -1: not known
};
struct StartDepths {
    std::uint64_t ns = 0;                    // the IPC namespace read (inode of /proc/self/ns/ipc); 0: none
    std::map<std::string, StartDepth> posix; // by path in the mqueue file system ("/name")
    std::map<std::int64_t, StartDepth> sysv; // by identifier
    std::string why;                         // what could not be read (empty: all of it)
    static constexpr std::size_t kMaxQueues = 4096; // per kind: past it, the rest are not known
};

// This machine, now. Never throws: what cannot be read is left out (why).
StartDepths read_start_depths();

// Pure parsers. A queue file's text ("QSIZE:10  NOTIFY:0 ..."): QSIZE, or -1.
std::int64_t parse_mqueue_qsize(std::string_view status);
// /proc/sysvipc/msg (a header, then "key msqid perms cbytes qnum ..." per queue).
void parse_sysvipc_msg(std::string_view text, std::map<std::int64_t, StartDepth>& out);

} // namespace mqtrace
