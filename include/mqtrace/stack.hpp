// Stack copies (syscalls backend, --user-reads stack and auto): a perf event
// on each syscall-entry tracepoint copies the top of the caller's user stack
// when the syscall is entered, in the caller's context
// (PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER). A pointer argument into
// that window is decoded from the copy: what the memory held when the kernel
// was entered, not what it holds after the call. Pointers elsewhere (static
// storage, the heap) fall back to late reads.
#pragma once

#include "mqtrace/decoder.hpp"
#include "mqtrace/kernel.hpp"

#include <array>
#include <cstdint>
#include <deque>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace mqtrace {

struct StackCopy {
    int tid = 0;
    std::uint64_t ts = 0;                // CLOCK_MONOTONIC, as the trace's "mono" clock
    int ev = -1;                         // catalog event
    bool at_exit = false;                // taken at syscall exit (output parameters), not at entry
    std::array<std::uint64_t, 6> args{}; // the syscall's argument registers
    std::uint64_t sp = 0;                // the caller's stack pointer at syscall entry
    std::string bytes;                   // the stack from sp upwards
};

// Finds in a copy the bytes of [addr, addr + len) or, with len 0, the
// NUL-terminated string at addr; false if the copy does not hold them. Pure.
bool from_stack(const StackCopy& s, std::uint64_t addr, std::size_t len, std::string& out);

// Copies waiting for their calls, per thread; and their use. Pure.
class StackQueue {
public:
    // A bound on copies waiting (a thread whose calls never come back, a
    // process that exited): past it, all are forgotten.
    static constexpr std::size_t kMaxWaiting = 65536;
    // A thread's copies are kept in time order: each CPU's ring is read in
    // order, but one after another, and a thread that moved between CPUs has
    // copies in several.
    void push(StackCopy&& s) {
        if (waiting_ >= kMaxWaiting) clear();
        ++waiting_;
        auto& q = by_tid_[s.tid];
        auto at = q.end();
        while (at != q.begin() && std::prev(at)->ts > s.ts)
            --at;
        q.insert(at, std::move(s));
    }
    // The copy taken when thread tid entered event ev with these arguments
    // at about ts, or null. Taken copies and copies of that thread older than
    // ts are forgotten: calls match copies one to one, in order.
    // Only the first nargs arguments are compared.
    std::optional<StackCopy> take(int tid, std::uint64_t ts, int ev, const std::array<std::uint64_t, 6>& args,
                                  std::size_t nargs, bool at_exit = false);
    // Forget every copy (after a loss, order alone no longer pairs them).
    void clear() {
        by_tid_.clear();
        waiting_ = 0;
        entered_.clear();
    }
    // The arguments of each thread's call in progress (for its exit copy).
    struct Entered {
        int ev = -1;
        std::array<std::uint64_t, 6> args{};
        std::size_t nargs = 0;
    };
    std::size_t payload = 0; // --payload: body bytes to take from the copies
    void entered(int tid, const Entered& e) {
        if (entered_.size() > kMaxWaiting) entered_.clear(); // threads that exited in a call
        entered_[tid] = e;
    }
    std::optional<Entered> returned(int tid) {
        auto it = entered_.find(tid);
        if (it == entered_.end()) return std::nullopt;
        Entered e = it->second;
        entered_.erase(it);
        return e;
    }

private:
    std::unordered_map<int, std::deque<StackCopy>> by_tid_;
    std::size_t waiting_ = 0; // copies in by_tid_
    std::unordered_map<int, Entered> entered_;
};

// Where a perf event takes copies: a syscall's entry or exit tracepoint.
struct StackPoint {
    int ev;       // catalog event
    int id;       // tracepoint id
    bool at_exit; // sys_exit_*: the outputs the kernel wrote, as the call returns
};

// Decode from the copies the pointer arguments of the syscall entries in
// ready (records whose Record::late lists what no probe read): values the
// copy holds replace the late reads (LateRead::stack); and, from the copies
// taken at exit, the output parameters each call wrote on the stack (as
// Record::late of its return record, LateRead::arg the output's index).
// lossy: records or copies were lost since the last call: copies no longer
// pair with calls by order, so none is used and all are forgotten.
void apply_stack_copies(std::span<Record* const> ready, const std::vector<Probe>& table, StackQueue& q,
                        bool lossy);

// The perf events that take the copies.
class StackCopies {
public:
    // One perf event per CPU per (catalog event, tracepoint id), all of a
    // CPU's into one ring buffer. Throws std::runtime_error naming the errno
    // if the kernel refuses (no perf events, perf_event_paranoid, lockdown).
    StackCopies(const std::vector<StackPoint>& tracepoints, Arch arch, std::uint32_t stack_bytes);
    ~StackCopies();
    StackCopies(const StackCopies&) = delete;
    StackCopies& operator=(const StackCopies&) = delete;

    // Every CPU's new copies into q (and, with record, a copy of each into it).
    void drain(StackQueue& q, std::vector<StackCopy>* record = nullptr);
    std::uint64_t lost() const { return lost_; } // samples the perf buffers dropped

    static constexpr std::uint32_t kDefaultBytes = 1024; // perf record's cost figure was for 1 KiB

private:
    struct Buffer {
        int fd = -1;
        void* map = nullptr;
        std::size_t size = 0; // mapping, including the metadata page
    };
    bool parse(const unsigned char* rec, std::size_t len, StackCopy& out) const;
    void release(); // unmap and close everything
    Arch arch_;
    std::vector<int> fds_;
    std::vector<Buffer> buffers_; // one per CPU
    std::unordered_map<std::uint64_t, StackPoint> point_of_id_;
    std::vector<unsigned char> scratch_;
    std::uint64_t lost_ = 0;
};

} // namespace mqtrace
