// Decoder: raw ring-buffer sub-buffers (as read from per_cpu/cpuN/trace_pipe_raw)
// into records, using the kernel's own event format texts. Pure: bytes in,
// records out; tested with pages recorded from real kernels.
#pragma once

#include "mqtrace/plan.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mqtrace {

struct FieldValue {
    std::int64_t num = 0;
    std::string str;
    bool is_str = false;
    bool fault = false; // string fetch failed (empty data_loc, or the literal "(fault)" on 6.1-6.4)
};

enum class RecordKind { Event, Lost };

// The most fields one probe may fetch (the Decoder refuses more).
inline constexpr std::size_t kMaxFields = 24;

// Memory read from the traced process right after its record was read (the
// syscalls backend's "late" reads, see Correlator::prefetch).
struct LateRead {
    int arg = -1;           // catalog argument index
    std::uint64_t addr = 0; // where
    std::size_t len = 0;    // struct size; 0 for a string
    bool ok = false;
    std::string bytes;    // string (without NUL) or struct bytes
    std::string_view why; // !ok: the reason: static text, or kept by the MemoryReader that read it
    bool stack = false;   // ok: taken from the stack copy made at syscall entry, not read late
};

// LateRead::arg of a message body's bytes (--payload), from a stack copy.
inline constexpr int kBodyArg = -2;

struct Record {
    RecordKind kind = RecordKind::Event;
    std::uint64_t ts = 0; // trace clock, ns
    int cpu = 0;
    int tid = 0;                    // common_pid: the thread id
    int probe = -1;                 // index in the probe table given to the Decoder
    std::vector<FieldValue> values; // parallel to that probe's fields
    std::int64_t lost = 0;          // RecordKind::Lost: events lost before ts (-1 = unknown)
    std::vector<LateRead> late;     // filled by LateReads::prefetch()
};

struct EventFormat {
    int probe;          // caller's index for this probe
    std::string system; // e.g. mqtrace_1234 or syscalls
    std::string format; // text of events/<system>/<event>/format
    std::vector<Field> fields;
};

class Decoder {
public:
    // Throws std::runtime_error naming the event whose format does not parse or
    // lacks a field.
    Decoder(std::string_view header_page, const std::vector<EventFormat>& events);
    ~Decoder();
    Decoder(const Decoder&) = delete;
    Decoder& operator=(const Decoder&) = delete;

    // Append the records of one sub-buffer. Unknown event ids are skipped.
    // inband_losses: a lost record for the kernel's missed-events count on it.
    void decode_page(int cpu, const void* page, std::size_t len, std::vector<Record>& out,
                     bool inband_losses = true) const;
    // Only the lost record of a sub-buffer (missed events flagged on it), without
    // decoding its events: what a recording run (-w) needs to account losses.
    void page_losses(int cpu, const void* page, std::size_t len, std::vector<Record>& out) const;
    int page_size() const;
    // Records done with: their value vectors are kept for the next records
    // (no allocation per record on the hot path). Empties done.
    void recycle(std::vector<Record>& done) const;

private:
    bool sane(const void* page, std::size_t len) const;
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace mqtrace
