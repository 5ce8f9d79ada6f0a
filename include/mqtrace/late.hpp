// Late reads (syscalls backend): the user memory behind pointer arguments
// that no probe captured in the caller's context, read from the traced
// process as soon as its records are read. A late value may not be what the
// kernel saw (the process may have rewritten its buffer since): the
// formatters never show it as the argument.
#pragma once

#include "mqtrace/correlator.hpp"
#include "mqtrace/decoder.hpp"
#include "mqtrace/plan.hpp"

#include <sys/uio.h>

#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mqtrace {

// One read of another process's memory: len bytes at addr, or (string) a
// NUL-terminated string starting there, into `into` (ok, bytes, why).
struct MemRead {
    std::uint64_t addr = 0;
    std::size_t len = 0;
    bool string = false;
    LateRead* into = nullptr;
};

class MemoryReader {
public:
    virtual ~MemoryReader() = default;
    // Every read of one task's memory (a thread, or its process: they share it); fills each
    // into->ok/bytes/why.
    virtual void read(int tid, std::span<MemRead> reads) = 0;
    // Non-empty when every read fails, for that reason (a recording): the
    // callers then fail their reads without batching them.
    virtual std::string_view reads_nothing() const { return {}; }
};

// Reads of no process (a recording, the benchmark): each fails with why
// (static text).
class NoMemory final : public MemoryReader {
public:
    explicit NoMemory(std::string_view why) : why_(why) {}
    void read(int, std::span<MemRead> reads) override {
        for (auto& r : reads) {
            r.into->ok = false;
            r.into->why = why_;
        }
    }
    std::string_view reads_nothing() const override { return why_; }

private:
    std::string_view why_;
};

// process_vm_readv(2), as many reads per system call as it takes (IOV_MAX):
// memory the process itself could not read (unmapped, PROT_NONE) fails as it
// would for the kernel.
class ProcMemReader final : public MemoryReader {
public:
    void read(int tid, std::span<MemRead> reads) override;

private:
    void read_each(int tid, std::span<MemRead> reads); // none twice
    void fail(MemRead& r, std::string_view why);
    void finish_string(int tid, MemRead& r);
    std::set<std::string, std::less<>> reasons_; // the texts LateRead::why points to (a few distinct ones)
    // Scratch of read(), kept for its capacity: no allocation per batch.
    std::vector<std::uint32_t> table_; // dedupe: read index + 1 by hash (0: empty)
    std::vector<std::size_t> first_;   // each read's index in reads_
    std::vector<MemRead> reads_;
    std::vector<iovec> local_, remote_;
    std::vector<char> chunks_; // strings' first chunks
};

class LateReads {
public:
    // What each probe of the table needs, resolved once.
    explicit LateReads(const std::vector<Probe>& probes);
    // Fill Record::late of every syscall entry in the records of parts (a
    // round's, as read: Merger::fresh) whose names and structs no probe
    // read: one batch of reads per thread.
    void prefetch(std::span<const std::span<Record>> parts, MemoryReader& mem);

    static constexpr std::size_t kMaxString = 4096;

private:
    struct Need {
        std::size_t field; // the pointer's field in the entry record
        int arg;           // catalog argument
        bool name;         // a string, else a struct of len bytes
        std::size_t len;
        int wrapper_field = -1; // the same pointer in a libc-wrapper record, if it read it
    };
    std::vector<std::vector<Need>> needs_; // by probe: entry tracepoints
    std::size_t most_needs_ = 0;           // of any probe
    std::vector<int> wrapper_of_;          // by probe: the entry probe a wrapper precedes, or -1
    struct Pending {
        int tid;
        MemRead read;
    };
    std::vector<Pending> batch_;
    std::vector<MemRead> reads_;
};

// Output parameters no probe read at return (the syscalls backend; kprobe
// kernels before 6.9), read from the process after the call returned: the
// kernel wrote them, but the process may have written them again since, so
// they are shown as late (Source::UserLate), beside the arguments. One batch
// of reads per thread for the calls of one chunk of a round (CallStages).
class OutputReads {
public:
    // payload: --payload, the body bytes to read of each call (0: none); bodies
    // no stack copy gave are read likewise, after the call.
    explicit OutputReads(std::size_t payload = 0) : payload_(payload) {}
    void fill(std::span<Item> items, MemoryReader& mem);

private:
    static constexpr std::size_t kBody = SIZE_MAX; // Want::out of a body
    struct Want {
        Call* call;
        std::size_t out;
    };
    std::size_t payload_;
    std::vector<Want> wants_;
    std::vector<LateRead> reads_into_;
    std::vector<std::pair<int, MemRead>> batch_;
    std::vector<MemRead> one_;
};

} // namespace mqtrace
