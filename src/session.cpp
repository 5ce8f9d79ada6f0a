// tracefs session. See include/mqtrace/session.hpp.
#include "mqtrace/session.hpp"

#include "tracefs_shim.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

namespace mqtrace {
namespace {

std::string take(char* s) {
    if (!s) return {};
    std::string out(s);
    std::free(s);
    return out;
}

std::string dynamic_file(const std::string& dir, ProbeKind kind) {
    if (std::filesystem::exists(dir + "/dynamic_events")) return "dynamic_events";
    return kind == ProbeKind::Uprobe ? "uprobe_events" : "kprobe_events";
}

} // namespace

namespace {

// "[confidentiality]" or "[integrity]" when the kernel is locked down.
std::string lockdown_mode() {
    std::ifstream in("/sys/kernel/security/lockdown");
    std::string line;
    std::getline(in, line);
    const auto a = line.find('['), b = line.find(']');
    if (a == std::string::npos || b == std::string::npos || b < a) return {};
    const std::string mode = line.substr(a + 1, b - a - 1);
    return mode == "none" ? std::string() : mode;
}

} // namespace

namespace {

// 0 when the file opens for reading, else the errno (lockdown refuses the
// open itself: access(2) would say yes).
int open_error(const std::string& path) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    close(fd);
    return 0;
}

} // namespace

std::string tracing_dir() {
    const char* d = mqt_tracing_dir(); // finds tracefs, or mounts it
    std::string dir = d ? d : "/sys/kernel/tracing";
    std::string readme = dir + "/README";
    // Not there (or hidden by another mount): mount it where mqtrace looks first.
    if (open_error(readme) == ENOENT && access("/sys/kernel/tracing", F_OK) == 0) {
        dir = "/sys/kernel/tracing";
        readme = dir + "/README";
        if (mount("nodev", dir.c_str(), "tracefs", 0, nullptr) != 0) {
            const int err = errno;
            if (err == EPERM || err == EACCES)
                throw TracefsError("tracefs is not mounted, and mounting it at " + dir + " was refused (" +
                                       std::strerror(err) + "): mqtrace needs root with CAP_SYS_ADMIN",
                                   EPERM);
            if (err == ENODEV)
                throw TracefsError("this kernel has no tracefs (built without CONFIG_TRACING)", ENODEV);
            throw TracefsError(
                "tracefs is not mounted and could not be mounted at " + dir + ": " + std::strerror(err), err);
        }
    }
    if (const int err = open_error(readme); err != 0) {
        if (const std::string mode = lockdown_mode(); !mode.empty() && (err == EPERM || err == EACCES))
            throw TracefsError("the kernel is locked down (" + mode +
                                   "): it refuses tracefs to every process, root included (" + readme + ": " +
                                   std::strerror(err) + ")",
                               EPERM);
        if (err == EACCES || err == EPERM)
            throw TracefsError("permission denied reading " + readme +
                                   ": mqtrace needs root (CAP_SYS_ADMIN and access to tracefs)",
                               err);
        throw TracefsError("tracefs is not mounted and could not be mounted at "
                           "/sys/kernel/tracing (try: mount -t tracefs nodev /sys/kernel/tracing)",
                           ENOENT);
    }
    return dir;
}

int owner_pid(const std::string& name) {
    static const std::string prefix = "mqtrace_";
    if (name.rfind(prefix, 0) != 0 || name.size() == prefix.size()) return -1;
    const std::string digits = name.substr(prefix.size());
    if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) return -1;
    return std::atoi(digits.c_str());
}

bool owner_alive(int pid) {
    if (pid <= 0) return false;
    if (kill(pid, 0) != 0 && errno == ESRCH) return false;
    // "PID (comm) S ...": a zombie (killed, not yet reaped) holds nothing any more,
    // and a live process with that pid may be an unrelated one that reused it.
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    // It exists but /proc does not show it (hidepid=, systemd's ProtectProc=):
    // it may be a run alive in another unit, so it is left alone.
    if (!stat) return true;
    std::string line;
    std::getline(stat, line);
    const auto open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close + 2 >= line.size()) return false;
    const std::string comm = line.substr(open + 1, close - open - 1);
    const char state = line[close + 2];
    return state != 'Z' && state != 'X' && comm.rfind("mqtrace", 0) == 0;
}

Session::Session(const KernelFacts& k, Options o, std::vector<std::string>* log)
    : k_(k), opt_(std::move(o)), log_(log) {
    dir_ = opt_.dry_run ? "/sys/kernel/tracing" : tracing_dir();
    if (log_) log_->push_back("mkdir " + dir_ + "/instances/" + opt_.name);
    if (!opt_.dry_run) {
        int is_new = 0;
        inst_ = mqt_instance_create(opt_.name.c_str(), &is_new);
        if (!inst_)
            throw TracefsError("cannot create tracefs instance " + opt_.name + ": " + std::strerror(errno),
                               errno);
        if (!is_new) {
            mqt_instance_free(inst_);
            inst_ = nullptr;
            throw TracefsError("tracefs instance " + opt_.name + " already exists", EEXIST);
        }
    }
    // A clock comparable across CPUs and with CLOCK_MONOTONIC (wall time = + offset).
    write("trace_clock", "mono", false, false);
    write("buffer_size_kb", std::to_string(opt_.buffer_kb), false, false);
    // Keep the newest events when full: losses are then flagged in-band by the
    // kernel (missed events) and counted in per_cpu/cpuN/stats overrun.
    write("options/overwrite", "1", false, false);
    // Wake a poll()ing reader on any data (5.0+; the default 50 % can sleep
    // forever on a quiet system). The reader itself limits how often it wakes.
    if (k.buffer_percent) write("buffer_percent", "0", false, false);
    // Newer kernels copy user strings into sys_enter events, cut at this many
    // bytes (63 by default): the most they allow, for whole names.
    if (std::filesystem::exists(dir_ + "/syscall_user_buf_size"))
        write("syscall_user_buf_size", "165", false, false);
}

Session::~Session() {
    try {
        teardown();
    } catch (...) {
    }
}

void Session::write(const std::string& file, const std::string& text, bool append, bool top) {
    const std::string path = top ? dir_ + "/" + file : dir_ + "/instances/" + opt_.name + "/" + file;
    if (log_) log_->push_back("echo '" + text + "' " + (append ? ">> " : "> ") + path);
    if (opt_.dry_run) return;
    mqt_instance* where = top ? nullptr : inst_;
    const int r = append ? mqt_file_append(where, file.c_str(), text.c_str())
                         : mqt_file_write(where, file.c_str(), text.c_str());
    if (r < 0) {
        std::string elog = top ? take(mqt_error_last()) : std::string();
        throw TracefsError("writing '" + text + "' to " + path + ": " + std::strerror(-r), -r, elog);
    }
}

std::string Session::probes_file(const Probe& p) const { return dynamic_file(dir_, p.kind); }

void Session::add(const Probe& p) {
    if (p.kind == ProbeKind::Tracepoint) return;
    std::string def = p.definition();
    if (++added_ == opt_.refuse_nth) def += " refused=+0(%no_such_register):u8";
    write(probes_file(p), def, true, true);
    created_.push_back(p);
}

void Session::enable(const Probe& p) {
    write("events/" + p.system + "/" + p.event + "/enable", "1", false, false);
    enabled_.push_back(p);
}

void Session::remove(const Probe& p) {
    for (auto it = enabled_.begin(); it != enabled_.end(); ++it)
        if (it->system == p.system && it->event == p.event) {
            write("events/" + p.system + "/" + p.event + "/enable", "0", false, false);
            enabled_.erase(it);
            break;
        }
    for (auto it = created_.begin(); it != created_.end(); ++it)
        if (it->system == p.system && it->event == p.event) {
            write(probes_file(p), "-:" + p.system + "/" + p.event, true, true);
            created_.erase(it);
            break;
        }
}

void Session::filter_tids(const std::vector<int>& tids, bool follow) {
    std::string list;
    for (int t : tids)
        list += (list.empty() ? "" : " ") + std::to_string(t);
    if (follow) write("options/event-fork", "1", false, false);
    write("set_event_pid", list, false, false);
}

void Session::set_filter(const Probe& p, const std::string& expr) {
    write("events/" + p.system + "/" + p.event + "/filter", expr, false, false);
}

void Session::tracing_on(bool on) { write("tracing_on", on ? "1" : "0", false, false); }

std::string Session::format(const Probe& p) const {
    std::ifstream in(dir_ + "/events/" + p.system + "/" + p.event + "/format");
    std::ostringstream ss;
    ss << in.rdbuf();
    if (ss.str().empty()) throw TracefsError("no format for event " + p.system + "/" + p.event, ENOENT);
    return ss.str();
}

std::string Session::header_page() const {
    std::ifstream in(dir_ + "/events/header_page");
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string Session::read(const std::string& rel) const {
    if (!inst_) return {};
    return take(mqt_file_read(inst_, rel.c_str(), nullptr));
}

std::string Session::path(const std::string& rel) const {
    return dir_ + "/instances/" + opt_.name + "/" + rel;
}

std::vector<int> Session::cpus() const {
    std::vector<int> out;
    std::error_code ec;
    for (const auto& e :
         std::filesystem::directory_iterator(dir_ + "/instances/" + opt_.name + "/per_cpu", ec)) {
        const std::string n = e.path().filename().string();
        if (n.rfind("cpu", 0) == 0) out.push_back(std::atoi(n.c_str() + 3));
    }
    std::sort(out.begin(), out.end());
    return out;
}

const std::vector<std::pair<std::string_view, std::uint64_t>>& Session::kprobe_misses() {
    misses_.clear();
    if (profile_fd_ < 0) profile_fd_ = ::open((dir_ + "/kprobe_profile").c_str(), O_RDONLY | O_CLOEXEC);
    if (profile_fd_ < 0) return misses_;
    // The whole file (every kprobe of the system, ours among them), read from its start.
    std::size_t n = 0;
    if (profile_.size() < 4096) profile_.resize(4096);
    for (;;) {
        const ssize_t got =
            pread(profile_fd_, profile_.data() + n, profile_.size() - n, static_cast<off_t>(n));
        if (got <= 0) break;
        n += static_cast<std::size_t>(got);
        if (n == profile_.size()) profile_.resize(2 * n);
    }
    // "  <event>   <hits>   <misses>": the event name without its group.
    const std::string_view text(profile_.data(), n);
    for (std::size_t at = 0; at < text.size();) {
        std::size_t end = text.find('\n', at);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view line = text.substr(at, end - at);
        at = end + 1;
        std::string_view word[3];
        std::size_t k = 0;
        for (std::size_t p = 0; k < 3 && p < line.size();) {
            p = line.find_first_not_of(' ', p);
            if (p == std::string_view::npos) break;
            const std::size_t q = std::min(line.find(' ', p), line.size());
            word[k++] = line.substr(p, q - p);
            p = q;
        }
        if (k < 3) continue;
        std::uint64_t misses = 0;
        if (std::from_chars(word[2].data(), word[2].data() + word[2].size(), misses).ec != std::errc())
            continue;
        for (const auto& p : created_)
            if (p.kind != ProbeKind::Uprobe && p.event == word[0]) misses_.emplace_back(word[0], misses);
    }
    return misses_;
}

void Session::teardown() {
    if (profile_fd_ >= 0) ::close(profile_fd_);
    profile_fd_ = -1;
    // Best effort on every step: one failure must not leave the rest behind.
    auto attempt = [&](auto&& f) {
        try {
            f();
        } catch (const TracefsError&) {
        }
    };
    if (inst_ || opt_.dry_run) attempt([&] { tracing_on(false); });
    while (!enabled_.empty()) {
        Probe p = enabled_.back();
        enabled_.pop_back();
        attempt([&] { write("events/" + p.system + "/" + p.event + "/enable", "0", false, false); });
    }
    if (inst_) {
        // rmdir fails with EBUSY while a reader still holds a file open; callers
        // close their readers first (Tracer owns the order).
        for (int i = 0; i < 50 && mqt_instance_destroy(inst_) < 0; ++i)
            usleep(20000);
        mqt_instance_free(inst_);
        inst_ = nullptr;
    } else if (opt_.dry_run && log_) {
        log_->push_back("rmdir " + dir_ + "/instances/" + opt_.name);
    }
    while (!created_.empty()) {
        Probe p = created_.back();
        created_.pop_back();
        attempt([&] { write(probes_file(p), "-:" + p.system + "/" + p.event, true, true); });
    }
}

std::vector<std::string> cleanup_stale(bool include_live_owners) {
    std::vector<std::string> done;
    const std::string dir = tracing_dir();
    auto stale = [&](const std::string& name) {
        const int pid = owner_pid(name);
        return pid > 0 && (include_live_owners || !owner_alive(pid));
    };
    // Instances first: removing one disables the events enabled in it, which
    // lets their probes be deleted.
    // (Listed here, not with tracefs_instances(): libtracefs 1.6 leaks its regex.)
    std::error_code ec;
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir + "/instances", ec))
        if (owner_pid(e.path().filename().string()) > 0) names.push_back(e.path().filename().string());
    for (const auto& name : names) {
        if (!stale(name)) continue;
        if (mqt_instance* i = mqt_instance_open(name.c_str())) {
            const int r = mqt_instance_destroy(i);
            mqt_instance_free(i);
            done.push_back(std::string(r < 0 ? "could not remove" : "removed") + " instance " + name +
                           (r < 0 ? std::string(": ") + std::strerror(-r) : ""));
        }
    }
    // dynamic_events (5.0+) lists kprobes and uprobes alike.
    std::vector<std::string> files{"dynamic_events"};
    if (!std::filesystem::exists(dir + "/dynamic_events")) files = {"kprobe_events", "uprobe_events"};
    for (const std::string& file : files) {
        std::ifstream in(dir + "/" + file);
        if (!in) continue;
        std::vector<std::string> doomed;
        for (std::string line; std::getline(in, line);) {
            // "p:mqtrace_123/mq_open do_mq_open ..." or "r64:mqtrace_123/..."
            const auto colon = line.find(':'), slash = line.find('/'), sp = line.find(' ');
            if (colon == std::string::npos || slash == std::string::npos || slash > sp) continue;
            const std::string group = line.substr(colon + 1, slash - colon - 1);
            if (stale(group)) doomed.push_back(line.substr(colon + 1, sp - colon - 1));
        }
        for (const auto& ev : doomed) {
            const int r = mqt_file_append(nullptr, file.c_str(), ("-:" + ev).c_str());
            done.push_back(std::string(r < 0 ? "could not remove" : "removed") + " probe " + ev +
                           (r < 0 ? std::string(": ") + std::strerror(-r) : ""));
        }
    }
    return done;
}

} // namespace mqtrace
