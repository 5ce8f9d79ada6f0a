// The run loop. See include/mqtrace/tracer.hpp.
#include "mqtrace/tracer.hpp"

#include "mqtrace/carry.hpp"
#include "mqtrace/catalog.hpp"
#include "mqtrace/command.hpp"
#include "mqtrace/context.hpp"
#include "mqtrace/correlator.hpp"
#include "mqtrace/decoder.hpp"
#include "mqtrace/depths.hpp"
#include "mqtrace/elf.hpp"
#include "mqtrace/flows.hpp"
#include "mqtrace/kernel.hpp"
#include "mqtrace/late.hpp"
#include "mqtrace/notify.hpp"
#include "mqtrace/output.hpp"
#include "mqtrace/reader.hpp"
#include "mqtrace/recording.hpp"
#include "mqtrace/replay.hpp"
#include "mqtrace/selftest.hpp"
#include "mqtrace/session.hpp"
#include "mqtrace/stack.hpp"
#include "mqtrace/stages.hpp"
#include "mqtrace/summary.hpp"
#include "mqtrace/tasks.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <utility>

namespace mqtrace {
namespace {

constexpr int kIntervalMs = 100;          // longest sleep between reads
constexpr int kMinWakeMs = 10;            // shortest time between two wake-ups of the reader
constexpr int kSelftestRounds = 300;      // x kMinWakeMs: time for canaries to come back (3 s)
constexpr std::size_t kMaxPending = 8000; // records waiting to be merged: memory stays bounded

std::uint64_t now_mono() {
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return static_cast<std::uint64_t>(t.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(t.tv_nsec);
}

std::int64_t realtime_offset() {
    timespec r{}, m{};
    clock_gettime(CLOCK_REALTIME, &r);
    clock_gettime(CLOCK_MONOTONIC, &m);
    return (static_cast<std::int64_t>(r.tv_sec) - m.tv_sec) * 1000000000ll + (r.tv_nsec - m.tv_nsec);
}

const char* backend_name(Backend b) {
    switch (b) {
    case Backend::Kprobe: return "kprobe";
    case Backend::Syscalls: return "syscalls";
    case Backend::Auto: return "auto";
    }
    return "?";
}

// The threads of a process, from /proc/PID/task (just PID if it cannot be read).
std::vector<int> threads_of(int pid) {
    std::vector<int> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec))
        out.push_back(std::atoi(e.path().filename().c_str()));
    if (out.empty()) out.push_back(pid);
    return out;
}

int exit_for(int err) { return (err == EPERM || err == EACCES) ? kExitPermission : kExitError; }

// The signals that end a run, taken synchronously from a signalfd (a closed
// output pipe shows up as EPIPE on write instead). With a command: its
// SIGCHLD ends the run once it has ended; a signal sent to mqtrace alone (not
// the terminal's, which the command's process group got too) is passed on to
// the command and the run goes on until the command ends; a second ends it.
// SIGUSR1 asks for the running counts; SIGHUP sent by a process (logrotate's
// kill -HUP, not a terminal's hang-up) reopens the -o/-w files when there are
// some. Neither ends the run nor goes to the command.
class Signals {
public:
    Signals() {
        // A background job of a shell without job control starts with SIGINT and SIGQUIT
        // ignored, and an ignored signal never reaches a signalfd: they end the run all the
        // same (as tcpdump's and trace-cmd's). SIGHUP ignored (nohup) stays ignored.
        for (int s : {SIGINT, SIGQUIT, SIGTERM}) {
            struct sigaction sa {};
            if (sigaction(s, nullptr, &sa) == 0 && sa.sa_handler == SIG_IGN) signal(s, SIG_DFL);
        }
        sigemptyset(&set_);
        for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1})
            sigaddset(&set_, s);
        pthread_sigmask(SIG_BLOCK, &set_, nullptr);
        signal(SIGPIPE, SIG_IGN);
        fd_ = signalfd(-1, &set_, SFD_CLOEXEC | SFD_NONBLOCK);
        if (fd_ < 0) throw std::runtime_error(std::string("signalfd: ") + std::strerror(errno));
    }
    ~Signals() { close(fd_); }
    Signals(const Signals&) = delete;
    Signals& operator=(const Signals&) = delete;
    int fd() const { return fd_; }
    void watch(Command* c) { cmd_ = c; }
    void hup_reopens(bool on) { hup_reopens_ = on; }
    bool take_reopen() { return std::exchange(reopen_, false); }
    bool take_counts() { return std::exchange(counts_, false); }
    // Take what is pending; true: end the run now.
    bool ends() {
        signalfd_siginfo si{};
        bool end = false;
        while (read(fd_, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
            const int sig = static_cast<int>(si.ssi_signo);
            if (sig == SIGUSR1) {
                counts_ = true;
            } else if (sig == SIGHUP && hup_reopens_ && si.ssi_code != SI_KERNEL) {
                reopen_ = true;
            } else if (sig == SIGCHLD) {
                end = end || (cmd_ && cmd_->reap());
            } else if (cmd_ && !cmd_->ended() && !forwarded_) {
                forwarded_ = true;
                if (si.ssi_code != SI_KERNEL) cmd_->signal(sig); // the terminal signalled it already
            } else {
                end = true;
            }
        }
        return end;
    }

private:
    sigset_t set_;
    int fd_ = -1;
    Command* cmd_ = nullptr;
    bool forwarded_ = false;
    bool hup_reopens_ = false, reopen_ = false, counts_ = false;
};

// Tests only: MQTRACE_TEST_HIDE=ustring,user_deref,arg_n plans as for a kernel
// without those fetch features (5.3, 5.3, 4.20), to run an older kernel's plan
// on a newer one (tests/vm/kprobe/30-older-features.sh).
void hide_features_for_tests(KernelFacts& k) {
    const char* h = std::getenv("MQTRACE_TEST_HIDE");
    if (!h) return;
    const std::string hide = "," + std::string(h) + ",";
    if (hide.find(",ustring,") != std::string::npos) k.ustring = false;
    if (hide.find(",user_deref,") != std::string::npos) k.user_deref = false;
    if (hide.find(",arg_n,") != std::string::npos) k.arg_n = k.ret_arg_n = false;
}

// One attempt with one backend: the session, its probes, and the loop.
class Run {
public:
    // Takes a chunk of a round's items and empties the vector (see CallStages).
    using Sink = std::function<void(std::vector<Item>&)>;

    Run(const TraceOptions& o, const KernelFacts& k, Backend b, std::vector<std::string>* log)
        : o_(o), k_(k), b_(b), tasks_(true), session_(k, session_options(o), log),
          filter_(o.sel, comm_in_kernel(o.sel, k), true), fmt_(o.fmt) {
        if (o.sel.uid >= 0) tasks_.track_uids();
        if (o.summary != SummaryMode::None) {
            summary_.emplace(o.events, o.per_process);
            if (!o.dry_run) summary_->start_depths(read_start_depths()); // before the probes: "at start"
        }
        PlanOptions po;
        po.group = session_.name();
        po.events = o.events;
        po.reads = o.reads;
        po.track_uids = o.sel.uid >= 0;
        // Tests only: MQTRACE_TEST_FIRST=event:symbol tries that kernel function first.
        if (const char* t = std::getenv("MQTRACE_TEST_FIRST"); t && std::strchr(t, ':'))
            if (const EventSpec* ev = find_event(std::string_view(t, std::strchr(t, ':') - t)))
                po.test_first.emplace_back(event_index(*ev), std::strchr(t, ':') + 1);
        if (b == Backend::Syscalls && (o.reads == UserReads::Auto || o.reads == UserReads::Uprobe) &&
            k.uprobe_events)
            po.libcs = find_libcs();
        plan_ = make_plan(k, b, po);
        for (const auto& ep : plan_.events)
            if (ep.alts.empty())
                throw Unsupported("no probe point for " + std::string(catalog()[ep.ev].name) +
                                  " on this kernel with the " + backend_name(b) + " backend");
        alt_.assign(plan_.events.size(), 0);
    }

    // Tests only: MQTRACE_TEST_INSTANCE=name (an instance name that may be
    // taken), MQTRACE_TEST_REFUSE=N (the Nth probe definition made invalid).
    static Session::Options session_options(const TraceOptions& o) {
        Session::Options so{"mqtrace_" + std::to_string(getpid()), o.dry_run, o.buffer_kb};
        if (const char* n = std::getenv("MQTRACE_TEST_INSTANCE")) so.name = n;
        if (const char* n = std::getenv("MQTRACE_TEST_REFUSE")) so.refuse_nth = std::atoi(n);
        return so;
    }

    struct Unsupported : std::runtime_error {
        using std::runtime_error::runtime_error;
    };

    // Install probes; with self-test, fall back per event until each works.
    void prepare(std::vector<Item>& early) {
        // Who every thread alive now is: a process that exits before its
        // records are read is still named (later ones come from task events).
        std::vector<int> tids;
        const std::vector<TaskInfo> infos = TaskTable::snapshot(tids);
        for (std::size_t i = 0; i < tids.size(); ++i)
            tasks_.seed(tids[i], infos[i].pid, infos[i].comm);
        // -p, -t, a command: the kernel records only those threads (with -p or
        // a command, what they create later too) and this thread, for the
        // self-test's canaries.
        if (!o_.sel.pids.empty() || !o_.sel.tids.empty()) {
            std::vector<int> tids = o_.sel.tids;
            for (int pid : o_.sel.pids)
                for (int t : threads_of(pid))
                    tids.push_back(t);
            tids.push_back(self_tid_);
            session_.filter_tids(tids, !o_.sel.pids.empty());
        }
        for (const auto& p : plan_.tasks)
            session_.enable(p);
        for (std::size_t i = 0; i < plan_.events.size(); ++i)
            install(i);
        if (o_.dry_run) return;
        rebuild();
        session_.tracing_on(true);
        misses_read_ = now_mono(); // kprobe misses from here on: made while tracing
        reader_.emplace(session_, decoder_->page_size());
        std::vector<std::size_t> todo(plan_.events.size());
        for (std::size_t i = 0; i < todo.size(); ++i)
            todo[i] = i;
        while (!todo.empty()) {
            std::vector<int> evs;
            for (auto i : todo)
                evs.push_back(plan_.events[i].ev);
            std::vector<std::string> why = selftest(evs, early);
            std::vector<std::size_t> next;
            for (std::size_t t = 0; t < todo.size(); ++t) {
                if (why[t].empty()) continue;
                const std::size_t i = todo[t];
                const auto& ep = plan_.events[i];
                failures_ +=
                    std::string(catalog()[ep.ev].name) + ": " + ep.alts[alt_[i]].label + ": " + why[t] + "\n";
                for (const auto& p : ep.alts[alt_[i]].probes)
                    session_.remove(p);
                if (++alt_[i] >= ep.alts.size())
                    throw Unsupported("no working probe for " + std::string(catalog()[ep.ev].name) +
                                      " on kernel " + k_.release + " (" + backend_name(b_) +
                                      " backend); tried:\n" + failures_);
                install(i);
                next.push_back(i);
            }
            if (!next.empty()) rebuild();
            todo = std::move(next);
        }
    }

    std::string describe() const {
        std::string s;
        for (std::size_t i = 0; i < plan_.events.size(); ++i)
            s += "  " + std::string(catalog()[plan_.events[i].ev].name) + ": " +
                 plan_.events[i].alts[alt_[i]].label + "\n";
        return s;
    }
    const std::string& failures() const { return failures_; }

    // Read until a signal (on sigfd), the duration, the count, or a closed output.
    int loop(Output& out, std::vector<Item>& early, Signals& sig) {
        long calls = 0;
        bool stop = false;
        const auto t0 = std::chrono::steady_clock::now();
        fmt_.start_ts = now_mono();
        const bool lines = o_.summary != SummaryMode::Only;
        // Each chunk of a round's items (see CallStages), then flush() once per round.
        const Sink lines_of = [&](std::vector<Item>& items) {
            for (auto& it : items) {
                if (!keep(it)) continue;
                if (o_.count > 0 && calls >= o_.count) break;
                if (it.is_call) {
                    ++calls;
                    ++per_event_[static_cast<std::size_t>(it.call.ev)];
                } else {
                    lost_ += it.lost.count > 0 ? static_cast<std::uint64_t>(it.lost.count) : 0;
                }
                if (summary_) summary_->add(it);
                if (lines) out.line(it, fmt_);
            }
            correlator_->recycle(items);
            if (o_.count > 0 && calls >= o_.count) stop = true;
        };
        auto flush = [&] {
            if (!out.flush()) stop = true;
        };
        auto expired = [&] {
            return o_.duration > 0 &&
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() >=
                       o_.duration;
        };
        lines_of(early);
        flush();
        // [0] signals, [1] our output (a closed pipe shows as POLLERR even when
        // there is nothing to write), [2..] the per-CPU buffers.
        std::vector<pollfd> fds{{sig.fd(), POLLIN, 0}, {out.fd(), 0, 0}};
        for (int fd : reader_->fds())
            fds.push_back({fd, POLLIN, 0});
        auto ended = [&] {
            if (fds[1].revents & (POLLERR | POLLHUP)) out.closed_by_reader();
            return ((fds[0].revents & POLLIN) && sig.ends()) || out.broken();
        };
        next_period_ = t0 + std::chrono::seconds(o_.rotate.seconds);
        auto counts = [&] {
            return std::to_string(calls) + " calls, " + std::to_string(out.written()) + " written, " +
                   std::to_string(lost_) + " lost";
        };
        while (!stop && !expired()) {
            const bool more = round(lines_of, false).more;
            flush();
            notify_tick(counts); // systemd: STATUS= every few seconds (and WATCHDOG=1)
            if (stop) break;
            between_rounds(&out, sig, expired(), [&] { return running_line(calls, out); });
            fds[1].fd = out.fd(); // a new file
            if (out.broken()) break;
            // Wake on data (buffer_percent 0) or on the timer, but at most once
            // per kMinWakeMs: each wake-up of a reader costs the traced calls.
            if (poll(fds.data(), 2, more ? 0 : kMinWakeMs) > 0 && ended()) break;
            const int timeout = more ? 0 : merger_.pending() ? kMinWakeMs : kIntervalMs;
            if (poll(fds.data(), fds.size(), timeout) > 0 && ended()) break;
        }
        notify_stopping(counts());
        if (!out.broken() && !(o_.count > 0 && calls >= o_.count)) {
            session_.tracing_on(false);
            while (round(lines_of, true).pages > 0)
                flush();
            std::vector<Item> items;
            correlator_->finish(items);
            lines_of(items);
            flush();
        }
        if (summary_ && !out.broken()) {
            out.text(o_.fmt.format == OutputFormat::Json ? summary_->json() : summary_->text());
            out.flush();
        }
        calls_ = calls;
        written_ = out.written();
        if (out.broken() && out.error() != EPIPE) {
            std::fprintf(stderr, "mqtrace: cannot write events to %s: %s\n", out.name().c_str(),
                         std::strerror(out.error()));
            return kExitError;
        }
        return kExitOk;
    }

    // One line on stderr; its lost count is the sum of the stream's (or the
    // recording's) lost records, then the kernel's counters they came from.
    void summary(const RecordingWriter* w = nullptr) {
        if (!reader_ || (o_.quiet && lost_ == 0)) return;
        const auto t = reader_->totals();
        std::uint64_t misses = 0;
        for (const auto& [event, n] : misses_)
            misses += n;
        char head[512];
        const std::string files = w && w->files() > 1 ? std::to_string(w->files()) + " files (" +
                                                            w->first_path() + " to " + w->path() + ")"
                                  : w ? w->path()
                                      : "";
        if (w)
            std::snprintf(head, sizeof head, "%llu bytes recorded to %s; lost events: %llu in the recording",
                          static_cast<unsigned long long>(w->bytes()), files.c_str(),
                          static_cast<unsigned long long>(lost_));
        else
            std::snprintf(head, sizeof head, "%ld calls traced, %ld written; lost events: %llu in the stream",
                          calls_, written_, static_cast<unsigned long long>(lost_));
        std::fprintf(
            stderr,
            "mqtrace: %s (ring buffer overrun %llu, dropped %llu, commit overrun %llu; kprobe misses %llu)\n",
            head, static_cast<unsigned long long>(t.overrun), static_cast<unsigned long long>(t.dropped),
            static_cast<unsigned long long>(t.commit_overrun), static_cast<unsigned long long>(misses));
    }

    void close() {
        reader_.reset(); // trace_pipe_raw must be closed before the instance can go
        session_.teardown();
    }

    Backend backend() const { return b_; }
    std::uint64_t lost() const { return lost_; }

    // Perf events copying the caller's stack at each syscall entry that passes
    // a pointer (--user-reads stack; auto: the calls made once per message, the
    // others have uprobes). If the kernel refuses, late reads stay.
    void start_stacks() {
        if (b_ != Backend::Syscalls || (o_.reads != UserReads::Stack && o_.reads != UserReads::Auto)) return;
        std::vector<StackPoint> tps;
        for (std::size_t i = 0; i < table_.size(); ++i) {
            const Probe& p = table_[i];
            const auto at = formats_[i].find("\nID: ");
            // At exit: the outputs the kernel wrote into the caller's stack, as the call returns.
            if (p.role == Role::Return && p.kind == ProbeKind::Tracepoint && p.ev >= 0 &&
                !catalog()[p.ev].outs.empty() && at != std::string::npos)
                tps.push_back(StackPoint{p.ev, std::atoi(formats_[i].c_str() + at + 5), true});
            if (p.role != Role::Entry || p.kind != ProbeKind::Tracepoint) continue;
            bool pointers = false;
            for (const auto& a : catalog()[p.ev].args)
                pointers = pointers || a.decode == Decode::Name || a.decode == Decode::Struct;
            if (o_.reads == UserReads::Auto && !catalog()[p.ev].per_message) continue;
            if (pointers && at != std::string::npos)
                tps.push_back(StackPoint{p.ev, std::atoi(formats_[i].c_str() + at + 5), false});
        }
        try {
            stacks_ = std::make_unique<StackCopies>(tps, k_.arch, StackCopies::kDefaultBytes);
        } catch (const std::runtime_error& e) {
            std::fprintf(stderr, "mqtrace: %s; structures are read after the call instead\n", e.what());
        }
    }

    // -w: the probe table is final; write it, then what was read so far.
    void start_recording(RecordingWriter& w) {
        writer_ = &w;
        carry_ = std::make_unique<CarryTracker>(session_.header_page(), table_, formats_);
        write_meta(w, nullptr);
        recording_ = true;
        std::vector<RawPage> none;
        record(none, {});
        w.flush();
    }
    // The metadata, with the threads alive now: from /proc at the start; in
    // a next file (c: what it carries), as the task events since tell.
    void write_meta(RecordingWriter& w, const Carry* c) {
        std::vector<Recording::Task> tasks;
        if (c) tasks = carry_->tasks(*c);
        if (tasks.empty()) {
            std::vector<int> tids;
            const std::vector<TaskInfo> infos = TaskTable::snapshot(tids);
            for (std::size_t i = 0; i < tids.size(); ++i)
                tasks.push_back(Recording::Task{tids[i], infos[i].pid, infos[i].comm});
            if (!c) carry_->seed(tasks);
        }
        w.meta(session_.header_page(), table_, formats_, self_tid_, k_.release + " " + k_.arch_name(),
               o_.fmt.clock_offset_ns, tasks, selected_);
    }

    // Between read rounds: -G's next file, SIGHUP's reopening, SIGUSR1's
    // counts (line: what to print). ending: no new file once the run ends.
    void between_rounds(Output* out, Signals& sig, bool ending, const std::function<std::string()>& line) {
        const auto now = std::chrono::steady_clock::now();
        if (o_.rotate.seconds > 0 && !ending && now >= next_period_) {
            while (next_period_ <= now)
                next_period_ += std::chrono::seconds(o_.rotate.seconds);
            if (out) out->rotate();
            rotate_rec_ = writer_ != nullptr; // at the start of the next round's data
        }
        if (sig.take_reopen()) {
            if (out) out->reopen();
            reopen_rec_ = writer_ != nullptr;
        }
        if (sig.take_counts()) std::fprintf(stderr, "mqtrace: running: %s\n", line().c_str());
    }
    // SIGUSR1 while decoding: calls, lost events, calls per event selected.
    std::string running_line(long calls, const Output& out) const {
        std::string s = std::to_string(calls) + " calls traced, " + std::to_string(out.written()) +
                        " written; lost events: " + std::to_string(lost_) + ";";
        const char* sep = " ";
        for (int e : o_.events) {
            s += sep + std::string(catalog()[static_cast<std::size_t>(e)].name) + " " +
                 std::to_string(per_event_[static_cast<std::size_t>(e)]);
            sep = ", ";
        }
        return s;
    }
    void record_to(RecordingWriter* w) { writer_ = w; }

    // -w without --print: read and record, decode nothing, until a signal or the duration.
    int loop_raw(RecordingWriter& w, Signals& sig) {
        const auto t0 = std::chrono::steady_clock::now();
        next_period_ = t0 + std::chrono::seconds(o_.rotate.seconds);
        std::vector<pollfd> fds{{sig.fd(), POLLIN, 0}};
        for (int fd : reader_->fds())
            fds.push_back({fd, POLLIN, 0});
        const Sink nothing = [](std::vector<Item>&) {}; // round() decodes nothing: no items
        auto expired = [&] {
            return o_.duration > 0 &&
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() >=
                       o_.duration;
        };
        try {
            while (!expired()) {
                const bool more = round(nothing, false, false).more;
                w.flush();
                between_rounds(nullptr, sig, expired(), [&] {
                    return std::to_string(w.bytes()) + " bytes recorded to " + w.path() +
                           "; lost events: " + std::to_string(reader_->reported());
                });
                notify_tick([&] { return std::to_string(w.bytes()) + " bytes recorded"; });
                if (poll(fds.data(), 1, more ? 0 : kMinWakeMs) > 0 && sig.ends()) break;
                if (poll(fds.data(), fds.size(), more ? 0 : kIntervalMs) > 0 && (fds[0].revents & POLLIN) &&
                    sig.ends())
                    break;
            }
            notify_stopping(std::to_string(w.bytes()) + " bytes recorded");
            session_.tracing_on(false);
            while (round(nothing, true, false).pages > 0) {
            }
            w.flush();
        } catch (const std::runtime_error& e) {
            std::fprintf(stderr, "mqtrace: %s\n", e.what());
            return kExitError;
        }
        for (const auto& [event, n] : misses_) // recorded as lost records of no CPU
            lost_ += n;
        lost_ += reader_->reported();
        return kExitOk;
    }

private:
    void install(std::size_t i) {
        for (const auto& p : plan_.events[i].alts[alt_[i]].probes) {
            session_.add(p);
            if (const std::string f = kernel_filter(o_.sel, p, k_, self_tid_); !f.empty())
                session_.set_filter(p, f); // before it is enabled: nothing unfiltered gets in
            session_.enable(p);
        }
    }

    // Probe table, decoder and correlator for what is installed now.
    void rebuild() {
        table_.clear();
        std::vector<EventFormat> fmts;
        auto push = [&](const Probe& p) {
            Probe q = p;
            const std::string format = session_.format(q);
            adopt_string_fields(q, format);
            fmts.push_back(EventFormat{static_cast<int>(table_.size()), q.system, format, q.fields});
            table_.push_back(std::move(q));
        };
        for (const auto& p : plan_.tasks)
            push(p);
        for (std::size_t i = 0; i < plan_.events.size(); ++i)
            for (const auto& p : plan_.events[i].alts[alt_[i]].probes)
                push(p);
        decoder_ = std::make_unique<Decoder>(session_.header_page(), fmts);
        formats_.clear();
        for (const auto& f : fmts)
            formats_.push_back(f.format);
        if (b_ == Backend::Syscalls) late_.emplace(table_);
        outputs_ = OutputReads(o_.payload);
        stack_queue_.payload = o_.payload;
        if (!correlator_)
            correlator_ = std::make_unique<Correlator>(table_, tasks_);
        else
            correlator_->set_probes(table_);
    }

    // One drain round: read, merge, correlate, handing the items to done chunk
    // by chunk (with decode false, only read and record: -w). Returns the
    // sub-buffers read and whether more wait.
    Reader::Drained round(const Sink& done, bool final, bool decode = true) {
        const std::uint64_t mark = now_mono() - 1000000; // records up to here are complete
        std::vector<RawPage> raw;
        // Records waiting for a CPU that is behind stay in the kernel's buffer, not ours.
        const Reader::DrainOptions how{decode, merger_.pending() > kMaxPending, writer_ ? &raw : nullptr,
                                       decode ? Reader::kDecodePages : Reader::kMaxPages};
        const Reader::Drained drained = reader_->drain(*decoder_, merger_, mark, how);
        kprobe_miss_records();
        const std::uint64_t complete = drained.complete;
        if (writer_ && recording_ && complete) next_file_if_due(raw);
        if (stacks_) { // the copies taken for this round's records, recorded before its end mark
            std::vector<StackCopy> taken;
            stacks_->drain(stack_queue_, writer_ ? &taken : nullptr);
            if (writer_) record_stacks(taken);
            if (!decode) stack_queue_.clear(); // -w alone: -r pairs them
        }
        if (writer_) {
            round_lost_.clear();
            for (const auto& part : merger_.fresh())
                for (const Record& r : part)
                    if (r.kind == RecordKind::Lost) round_lost_.push_back(r);
            record(raw, round_lost_, complete);
        }
        if (!decode) {
            merger_.drop_fresh();
            return drained;
        }
        if (late_) late_->prefetch(merger_.fresh(), mem_);
        merger_.added();
        // The last rounds (tracing off) still drain CPUs that are behind: what
        // the others read waits for them, until nothing is left to read.
        std::vector<Record*>& ready = ready_;
        ready.clear();
        if (final && drained.pages == 0)
            merger_.release_all(ready);
        else
            merger_.release(complete, ready);
        if (stacks_) apply_stacks(ready);
        const CallStages stages{*correlator_, outputs_, context_, flows_on_ ? &flows_ : nullptr};
        stages.run(ready, mem_, items_, done);
        merger_.done();
        return drained;
    }

    // Stack copies (syscalls backend): values of pointers into the caller's
    // stack as they were at syscall entry, in place of late reads. Copies pair
    // with calls one to one, in order per thread; after any loss (of a record
    // or of a copy) they no longer do, so that round keeps its late reads.
    void apply_stacks(std::span<Record* const> ready) {
        const bool lossy = stacks_->lost() != stack_lost_seen_;
        stack_lost_seen_ = stacks_->lost();
        apply_stack_copies(ready, table_, stack_queue_, lossy);
    }

    // -w: the stack copies of this round, and whether copies were lost.
    void record_stacks(const std::vector<StackCopy>& taken) {
        if (!recording_) return; // copies start with the recording (start_stacks)
        for (const auto& c : taken) {
            writer_->stack_copy(c);
            if (carry_) carry_->stack_copy(c);
        }
        if (stacks_->lost() != stack_lost_recorded_) {
            stack_lost_recorded_ = stacks_->lost();
            writer_->stack_lost(stack_lost_recorded_);
        }
    }

    // -w: the raw pages and the (exact) lost records of this round; kept in
    // memory until the self-test has settled the probe table, then written.
    void record(std::vector<RawPage>& raw, std::span<const Record> recs, std::uint64_t mark = 0) {
        for (auto& p : raw)
            pending_pages_.push_back(std::move(p));
        for (const auto& r : recs)
            if (r.kind == RecordKind::Lost) pending_lost_.push_back(r);
        if (!recording_) return;
        for (auto& p : pending_pages_) {
            writer_->page(p.cpu, p.bytes.data(), p.bytes.size());
            if (carry_) carry_->page(std::make_shared<const RawPage>(std::move(p)));
        }
        for (const auto& r : pending_lost_)
            writer_->lost(r);
        if (mark) {
            writer_->round(mark);
            if (carry_) carry_->round(mark);
        }
        pending_pages_.clear();
        pending_lost_.clear();
    }

    // -w: before a read round's data, the next file if it is due (--rotate-size,
    // -G) or the file was moved (SIGHUP): this one ends at a round's end, the
    // next begins with the metadata and what it carries over (carry.hpp).
    void next_file_if_due(const std::vector<RawPage>& raw) {
        std::size_t more = 0;
        for (const auto& p : raw)
            more += p.bytes.size() + 9;
        const bool next = rotate_rec_ || writer_->full(more);
        const bool moved = !next && reopen_rec_ && writer_->moved();
        rotate_rec_ = reopen_rec_ = false;
        if (!next && !moved) return;
        const Carry c = carry_->carry();
        writer_->next_file(c.boundary, moved);
        write_meta(*writer_, &c);
        writer_->continues(c.boundary, c.open);
        for (const auto& p : c.pages)
            writer_->carried_page(p->cpu, p->bytes.data(), p->bytes.size());
        for (const auto& s : c.stacks)
            writer_->stack_copy(s);
    }

    // Kprobe backend: the calls kprobe_profile counts as missed since the last
    // round (recursion, or kretprobe instances exhausted by blocked calls), as
    // lost records of no CPU, by event. They were made after the last read of
    // the file, which every record handed on before came before, and before
    // this one: the gap runs from the one to the other. Merged with the
    // round's records (and recorded with -w), they go through the stages as
    // the ring buffer's losses do: a call neither of whose records was seen
    // may have sent or received a message, or made or removed a queue.
    void kprobe_miss_records() {
        if (b_ != Backend::Kprobe) return;
        const std::uint64_t now = now_mono();
        const std::uint64_t since = misses_read_;
        misses_read_ = now;
        for (const auto& [event, misses] : session_.kprobe_misses()) {
            auto seen = misses_.find(event);
            if (seen == misses_.end()) seen = misses_.emplace(std::string(event), 0).first;
            if (misses <= seen->second) { // (fewer: a probe made again, counting from 0)
                seen->second = misses;
                continue;
            }
            Record& r = merger_.queue(-1).add();
            r.kind = RecordKind::Lost;
            r.cpu = -1;
            r.ts = std::min(since, now);
            r.until = now;
            r.lost = static_cast<std::int64_t>(misses - seen->second);
            for (std::size_t i = 0; i < table_.size(); ++i)
                if (table_[i].kind != ProbeKind::Uprobe && table_[i].event == event)
                    r.probe = static_cast<int>(i);
            seen->second = misses;
        }
    }

    std::vector<std::string> selftest(const std::vector<int>& evs, std::vector<Item>& early) {
        const std::vector<Canary> ks = Canaries::of(evs);
        canaries_.call(ks);
        auto slot = [&](int ev) {
            for (std::size_t e = 0; e < evs.size(); ++e)
                if (evs[e] == ev) return e;
            return evs.size();
        };
        std::vector<std::string> why(evs.size());
        std::vector<bool> seen(ks.size(), false);
        std::size_t left = ks.size();
        for (int r = 0; r < kSelftestRounds && left > 0; ++r) {
            std::vector<Item> items;
            round(
                [&](std::vector<Item>& chunk) {
                    std::move(chunk.begin(), chunk.end(), std::back_inserter(items));
                    chunk.clear();
                },
                false);
            for (auto& it : items) {
                if (!(it.is_call && it.call.tid == self_tid_)) {
                    early.push_back(std::move(it));
                    continue;
                }
                // The calls of one event come back in the order they were made.
                for (std::size_t k = 0; k < ks.size(); ++k)
                    if (!seen[k] && ks[k].ev == it.call.ev) {
                        seen[k] = true;
                        --left;
                        const std::size_t e = slot(ks[k].ev);
                        if (std::string w = canaries_.check(ks[k], it.call, sources(ks[k].ev));
                            why[e].empty())
                            why[e] = w;
                        break;
                    }
            }
            if (left > 0) usleep(kMinWakeMs * 1000);
        }
        for (std::size_t k = 0; k < ks.size(); ++k) {
            const std::size_t e = slot(ks[k].ev);
            if (seen[k] || !why[e].empty()) continue;
            why[e] = std::string(ks[k].what) + ": no call seen (the probe never fired" +
                     (ks[k].kind == CanaryKind::Fault || ks[k].kind == CanaryKind::Invalid
                          ? ": it misses calls the kernel rejects before it)"
                          : ")");
        }
        return why;
    }

    // Where the canaries' values must come from with the alternative installed now.
    CanarySources sources(int ev) const {
        CanarySources s;
        const bool kp = b_ == Backend::Kprobe;
        s.name = kp ? Source::UserAtEntry : Source::UserLate;
        s.rejected = s.reached = kp ? Source::UserAtEntry : Source::UserLate;
        for (std::size_t i = 0; i < plan_.events.size(); ++i)
            if (plan_.events[i].ev == ev)
                for (const auto& p : plan_.events[i].alts[alt_[i]].probes) {
                    if (p.role == Role::Wrapper) s.name = Source::UserAtEntry;
                    if (p.role != Role::Inner) continue;
                    for (const auto& f : p.fields) // the kernel's copy of the name, or of structs
                        (f.key == "name$str" ? s.name : s.reached) = Source::KernelCopy;
                }
        return s;
    }

    bool keep(const Item& it) const {
        if (!it.is_call) return true;
        // -p/-t and mostly --comm and -x are filtered in the kernel; the rest here.
        return it.call.pid != self_pid_ && it.call.tid != self_tid_ && filter_.keep(it.call);
    }

    const TraceOptions& o_;
    const KernelFacts& k_;
    Backend b_;
    TaskTable tasks_;
    ProcMemReader mem_;
    OutputReads outputs_;
    std::unique_ptr<ProcView> proc_ = system_proc_view();
    QueueContext context_{*proc_}; // descriptor context, after the outputs
    Flows flows_;                  // --flows, after the descriptor context
    // Calls selected in the kernel: not every call on the queues is seen, which links need.
    const bool selected_ = !o_.sel.pids.empty() || !o_.sel.tids.empty() || !o_.sel.comm.empty() ||
                           o_.sel.failed || !o_.command.empty();
    const bool flows_on_ = o_.flows && !selected_;
    std::optional<LateReads> late_;                     // syscalls backend
    std::vector<std::string> formats_;                  // event format texts, parallel to table_
    RecordingWriter* writer_ = nullptr;                 // -w
    bool recording_ = false;                            // the table is written: pages go straight to the file
    std::unique_ptr<CarryTracker> carry_;               // -w: what a next file would carry over
    bool rotate_rec_ = false, reopen_rec_ = false;      // -w: -G's next file, SIGHUP's reopening, due
    std::chrono::steady_clock::time_point next_period_; // -G
    std::vector<std::uint64_t> per_event_ = std::vector<std::uint64_t>(catalog().size()); // calls shown
    std::vector<RawPage> pending_pages_;
    std::unique_ptr<StackCopies> stacks_;
    StackQueue stack_queue_;
    std::uint64_t stack_lost_seen_ = 0, stack_lost_recorded_ = 0;
    std::vector<Record> pending_lost_;
    Session session_;
    Plan plan_;
    std::vector<std::size_t> alt_;
    std::vector<Probe> table_;
    std::unique_ptr<Decoder> decoder_;
    std::unique_ptr<Correlator> correlator_;
    std::optional<Reader> reader_;
    Merger merger_;
    Canaries canaries_;
    const int self_pid_ = getpid();
    const int self_tid_ = static_cast<int>(gettid());
    std::string failures_;
    std::map<std::string, std::uint64_t, std::less<>> misses_; // kprobe_profile misses seen so far
    std::uint64_t misses_read_ = 0;                            // when kprobe_profile was last read
    std::vector<Record*> ready_;     // round()'s records in order (in merger_), kept for its capacity
    std::vector<Record> round_lost_; // -w: the round's lost records
    std::vector<Item> items_;        // round()'s chunk of items, emptied by its sink
    CallFilter filter_;
    FormatOptions fmt_; // with the start time (-T relative)
    std::optional<Summary> summary_;
    long calls_ = 0, written_ = 0;
    std::uint64_t lost_ = 0;
};

} // namespace

// Run f; a failure becomes a message on stderr and the documented exit status.
template <typename F> int reported(F&& f) {
    try {
        return f();
    } catch (const TracefsError& e) {
        std::fprintf(stderr, "mqtrace: %s\n", e.what());
        if (!e.error_log.empty())
            std::fprintf(stderr, "mqtrace: kernel error_log: %s\n", e.error_log.c_str());
        return exit_for(e.err);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mqtrace: %s\n", e.what());
        return kExitError;
    }
}

int run_cleanup() {
    return reported([] {
        for (const auto& line : cleanup_stale())
            std::fprintf(stderr, "mqtrace: %s\n", line.c_str());
        return int{kExitOk};
    });
}

int run_record_profile(const std::string& dir) {
    return reported([&] {
        save_profile_dir(read_live_profile(tracing_dir(), true), dir);
        std::fprintf(stderr, "mqtrace: kernel profile written to %s\n", dir.c_str());
        return int{kExitOk};
    });
}

namespace {

// With a command: once tracing has ended, wait for it and take its status
// (mqtrace's own if mqtrace failed; --strict's if the command succeeded).
int command_status(Command& cmd, int rc) {
    cmd.reap(true);
    if (!cmd.exec_error().empty()) std::fprintf(stderr, "mqtrace: %s\n", cmd.exec_error().c_str());
    if (rc != kExitOk && rc != kExitLost) return rc;
    const int status = cmd.exit_status();
    return status != 0 ? status : rc;
}

// One backend from setup to teardown; throws Run::Unsupported when no probe
// plan passes the self-test on this kernel.
int trace_with(const TraceOptions& o, const KernelFacts& k, Backend b, Signals& sig, Command* cmd) {
    // Outputs first: one that cannot be opened leaves tracefs untouched.
    std::optional<Output> out;
    std::optional<RecordingWriter> rec;
    if (!o.dry_run) {
        if (!o.write_file.empty()) rec.emplace(o.write_file, o.rotate);
        if (o.write_file.empty() || o.print) out.emplace(o.output, o.rotate);
        // SIGHUP from logrotate: the files are reopened (without any, it ends the run).
        sig.hup_reopens(!o.write_file.empty() || !o.output.empty());
        if (out && o.journal) out->to_journal();
        if (out && o.fmt.format == OutputFormat::Perfetto) out->to_perfetto();
    }
    std::vector<std::string> log;
    Run run(o, k, b, o.dry_run ? &log : nullptr);
    if (rec) run.record_to(&*rec);
    std::vector<Item> early;
    run.prepare(early);
    if (o.dry_run) {
        log.push_back("# at exit (and on every signal or error):");
        run.close();
        std::printf("# mqtrace --dry-run: kernel %s (%s), backend %s\n", k.release.c_str(), k.arch_name(),
                    backend_name(b));
        std::printf("# probe points (first choice; others are tried if the self-test fails):\n");
        const std::string d = run.describe();
        for (std::size_t p = 0, q; (q = d.find('\n', p)) != std::string::npos; p = q + 1)
            std::printf("#%s\n", d.substr(p, q - p).c_str());
        for (const auto& l : log)
            std::printf("%s\n", l.c_str());
        return kExitOk;
    }
    if (rec) run.start_recording(*rec);
    run.start_stacks();
    // Probe points the self-test rejected: each was replaced by the next one.
    const std::string& f = run.failures();
    for (std::size_t p = 0, q; (q = f.find('\n', p)) != std::string::npos; p = q + 1)
        std::fprintf(stderr, "mqtrace: self-test rejected %s\n", f.substr(p, q - p).c_str());
    if (!o.quiet)
        std::fprintf(
            stderr, "Tracing %zu message-queue syscalls with the %s backend%s%s.%s\n", o.events.size(),
            backend_name(b), rec ? (", recording to " + rec->path()).c_str() : "",
            cmd ? (" of " + escape(o.command[0], false) + " (pid " + std::to_string(cmd->pid()) + ")").c_str()
                : "",
            cmd ? "" : " Ctrl-C to end.");
    if (cmd) cmd->go(); // its first call is seen: tracing is live
    // systemd (Type=notify): ready at the moment "Tracing" is printed.
    notify_ready("Tracing " + std::to_string(o.events.size()) + " syscalls (" + backend_name(b) + " backend" +
                 (rec ? ", recording" : "") + "): ");
    int rc;
    if (!out) { // -w: the records made during the self-test are in the recording
        rc = run.loop_raw(*rec, sig);
        run.summary(&*rec);
    } else {
        if (o.fmt.format == OutputFormat::Text && o.summary != SummaryMode::Only && !o.quiet && !o.journal)
            std::fprintf(stderr, "%s\n", text_header(o.fmt).c_str());
        rc = run.loop(*out, early, sig);
        if (rec) rec->flush();
        run.summary();
    }
    run.close();
    if (rc == kExitOk && o.strict && run.lost() > 0) rc = kExitLost;
    return rc;
}

} // namespace

int run_replay(const TraceOptions& o) {
    return reported([&] {
        RecordingStream file(o.read_file); // one round in memory at a time
        const Recording& r = file.head();
        Output out(o.output, o.rotate);
        if (o.journal) out.to_journal();
        if (o.fmt.format == OutputFormat::Perfetto) out.to_perfetto();
        FormatOptions fmt = o.fmt;
        fmt.clock_offset_ns = r.clock_offset_ns; // wall clock of the recording machine
        if (o.fmt.format == OutputFormat::Text && o.summary != SummaryMode::Only && !o.quiet && !o.journal)
            std::fprintf(stderr, "%s\n", text_header(fmt).c_str());
        const CallFilter filter(o.sel, false, false);
        std::optional<Summary> summary;
        if (o.summary != SummaryMode::None) summary.emplace(o.events, o.per_process);
        bool first = true;
        std::vector<bool> want(catalog().size(), false);
        for (int e : o.events)
            want[static_cast<std::size_t>(e)] = true;
        long calls = 0;
        std::uint64_t lost = 0;
        bool done = false;
        Replayer replay(
            r,
            [&](Item&& it) { // streamed: memory stays small whatever the recording's size
                if (done ||
                    (it.is_call && (!want[static_cast<std::size_t>(it.call.ev)] || !filter.keep(it.call))))
                    return;
                if (first) { // -T relative: from the first record of the recording
                    fmt.start_ts = it.is_call ? it.call.ts : it.lost.ts;
                    first = false;
                }
                if (o.count > 0 && calls >= o.count) {
                    done = true;
                    return;
                }
                if (it.is_call)
                    ++calls;
                else
                    lost += it.lost.count > 0 ? static_cast<std::uint64_t>(it.lost.count) : 0;
                if (summary) summary->add(it);
                if (o.summary != SummaryMode::Only) out.line(it, fmt);
                if (out.pending_bytes() > (1 << 20) && !out.flush()) done = true;
            },
            o.payload, o.flows);
        for (Recording part; !done && file.next(part);) // -n: no further than needed
            replay.feed(part);
        replay.finish();
        if (summary) out.text(o.fmt.format == OutputFormat::Json ? summary->json() : summary->text());
        out.flush();
        if (!o.quiet || lost > 0)
            std::fprintf(
                stderr, "mqtrace: %ld calls read from %s (recorded on %s), %ld written; lost events: %llu\n",
                calls, file.name().c_str(), r.kernel.empty() ? "an unknown kernel" : r.kernel.c_str(),
                out.written(), static_cast<unsigned long long>(lost));
        if (out.broken() && out.error() != EPIPE) {
            std::fprintf(stderr, "mqtrace: cannot write events to %s: %s\n", out.name().c_str(),
                         std::strerror(out.error()));
            return int{kExitError};
        }
        return int{o.strict && lost > 0 ? kExitLost : kExitOk};
    });
}

int run_trace(const TraceOptions& opts) {
    notify_init(); // before any command is started: it does not inherit NOTIFY_SOCKET
    TraceOptions o = opts;
    o.fmt.clock_offset_ns = realtime_offset();
    std::optional<Signals> sig;
    try {
        sig.emplace();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mqtrace: %s\n", e.what());
        return kExitError;
    }
    for (int pid : o.sel.pids)
        if (kill(pid, 0) != 0 && errno == ESRCH) {
            std::fprintf(stderr, "mqtrace: no process with pid %d\n", pid);
            return kExitError;
        }
    for (int tid : o.sel.tids)
        if (access(("/proc/" + std::to_string(tid)).c_str(), F_OK) != 0) {
            std::fprintf(stderr, "mqtrace: no thread with tid %d\n", tid);
            return kExitError;
        }
    KernelFacts k;
    if (const int rc = reported([&] {
            const std::string dir = o.dry_run ? std::string("/sys/kernel/tracing") : tracing_dir();
            if (!o.dry_run)
                for (const auto& line : cleanup_stale())
                    std::fprintf(stderr, "mqtrace: %s\n", line.c_str());
            k = parse_facts(read_live_profile(dir));
            hide_features_for_tests(k);
            return int{kExitOk};
        });
        rc != kExitOk)
        return rc;
    // The command starts now, held before exec until tracing is live; only it
    // and what it creates are traced.
    std::optional<Command> cmd;
    if (!o.command.empty()) {
        try {
            cmd.emplace(o.command);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "mqtrace: %s\n", e.what());
            int err = 0;
            find_command(o.command[0], err);
            return err == ENOENT ? kExitCommandNotFound : kExitCommandNotRunnable;
        }
        o.sel.pids = {cmd->pid()};
        sig->watch(&*cmd);
    }

    std::vector<Backend> order;
    if (o.backend == Backend::Auto) {
        if (backend_unavailable(k, Backend::Kprobe).empty()) order.push_back(Backend::Kprobe);
        order.push_back(Backend::Syscalls);
    } else {
        order.push_back(o.backend);
    }
    std::string tried;
    for (Backend b : order) {
        if (std::string why = backend_unavailable(k, b); !why.empty()) {
            tried += std::string("  ") + backend_name(b) + ": " + why + "\n";
            continue;
        }
        bool next = false; // this backend cannot work here: try the next one
        const int rc = reported([&] {
            try {
                const int r = trace_with(o, k, b, *sig, cmd ? &*cmd : nullptr);
                return cmd ? command_status(*cmd, r) : r;
            } catch (const Run::Unsupported& e) {
                tried += std::string("  ") + backend_name(b) + ": " + e.what() + "\n";
            } catch (const TracefsError& e) {
                // A kernel that refuses kprobe definitions: auto goes on to the syscalls backend.
                const bool refused = e.err == EINVAL || e.err == ENOENT || e.err == ENODEV;
                if (!(o.backend == Backend::Auto && b == Backend::Kprobe && refused)) throw;
                tried += std::string("  kprobe: ") + e.what() + "\n";
            }
            next = true;
            return int{kExitUnsupported};
        });
        if (!next) return rc;
    }
    std::fprintf(stderr, "mqtrace: cannot trace on kernel %s:\n%s", k.release.c_str(), tried.c_str());
    return kExitUnsupported;
}

} // namespace mqtrace
