// Depth at start: see include/mqtrace/depths.hpp.
#include "mqtrace/depths.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>

namespace mqtrace {
namespace {

// Every queue file under dir: its QSIZE and, through mq_getattr on the open
// file (a queue's file is a queue descriptor), its message count.
void read_mqueue_dir(const char* dir, StartDepths& d) {
    DIR* dp = opendir(dir);
    if (!dp) {
        d.why += std::string(d.why.empty() ? "" : "; ") + "mqueue file system: " + std::strerror(errno);
        return;
    }
    while (const dirent* e = readdir(dp)) {
        if (e->d_name[0] == '.') continue;
        if (d.posix.size() >= StartDepths::kMaxQueues) {
            d.why += std::string(d.why.empty() ? "" : "; ") + "more than 4096 POSIX queues";
            break;
        }
        const int fd = openat(dirfd(dp), e->d_name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) continue; // gone since, or not ours to open
        StartDepth s;
        char buf[256];
        const ssize_t n = read(fd, buf, sizeof buf - 1);
        if (n > 0) s.bytes = parse_mqueue_qsize(std::string_view(buf, static_cast<std::size_t>(n)));
        mq_attr a{};
        if (syscall(SYS_mq_getsetattr, fd, nullptr, &a) == 0) s.messages = a.mq_curmsgs;
        close(fd);
        d.posix["/" + std::string(e->d_name)] = s;
    }
    closedir(dp);
}

// Where the system has the mqueue file system mounted, if anywhere.
std::string mqueue_mount() {
    std::ifstream in("/proc/self/mountinfo");
    for (std::string line; std::getline(in, line);) {
        // "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS...] - FSTYPE SOURCE SUPER"
        const std::size_t dash = line.find(" - ");
        if (dash == std::string::npos || line.compare(dash + 3, 7, "mqueue ") != 0) continue;
        std::istringstream f(line.substr(0, dash));
        std::string id, parent, dev, root, point;
        if (f >> id >> parent >> dev >> root >> point && root == "/" && point.find('\\') == std::string::npos)
            return point;
    }
    return {};
}

} // namespace

std::int64_t parse_mqueue_qsize(std::string_view s) {
    if (!s.starts_with("QSIZE:")) return -1;
    s.remove_prefix(6);
    std::int64_t v = -1;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    return r.ec == std::errc() && v >= 0 ? v : -1;
}

void parse_sysvipc_msg(std::string_view text, std::map<std::int64_t, StartDepth>& out) {
    std::istringstream in{std::string(text)};
    std::string line;
    std::getline(in, line); // the header
    while (std::getline(in, line) && out.size() < StartDepths::kMaxQueues) {
        std::istringstream f(line);
        long long key = 0, id = 0, cbytes = 0, qnum = 0;
        std::string perms;
        if (f >> key >> id >> perms >> cbytes >> qnum && id >= 0 && cbytes >= 0 && qnum >= 0)
            out[id] = StartDepth{qnum, cbytes};
    }
}

StartDepths read_start_depths() {
    StartDepths d;
    struct stat st {};
    if (stat("/proc/self/ns/ipc", &st) != 0) {
        d.why = "no /proc/self/ns/ipc";
        return d;
    }
    d.ns = st.st_ino;
    {
        std::ifstream in("/proc/sysvipc/msg");
        std::stringstream text;
        text << in.rdbuf();
        if (in)
            parse_sysvipc_msg(text.str(), d.sysv);
        else
            d.why = "no /proc/sysvipc/msg";
    }
    // POSIX: a mount of our own, seen by this thread only (a mount namespace
    // it unshares, every mount in it private first, so that nothing
    // propagates out), so that the queues read are those of our IPC namespace.
    auto posix = [&d] {
        if (unshare(CLONE_NEWNS) == 0 && mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
            mount("mqueue", "/tmp", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, nullptr) == 0) {
            read_mqueue_dir("/tmp", d);
            return;
        }
        // Not allowed (no CAP_SYS_ADMIN): the system's own mount, if there is one.
        const std::string at = mqueue_mount();
        if (at.empty()) {
            d.why +=
                std::string(d.why.empty() ? "" : "; ") + "no mqueue file system mounted, and none could be";
            return;
        }
        read_mqueue_dir(at.c_str(), d);
    };
    try {
        std::thread(posix).join();
    } catch (const std::system_error& e) { // no thread to be had: no POSIX depths
        d.why += std::string(d.why.empty() ? "" : "; ") + "POSIX queues: " + e.what();
    }
    return d;
}

} // namespace mqtrace
