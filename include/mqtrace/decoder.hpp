// Decoder: raw ring-buffer sub-buffers (as read from per_cpu/cpuN/trace_pipe_raw)
// into records, using the kernel's own event format texts. Pure: bytes in,
// records out; tested with pages recorded from real kernels.
#pragma once

#include "mqtrace/plan.hpp"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
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

// A record's late reads: a vector whose reads outlive clear(), so that the
// next record to use the slot reads (or copies) into strings that have the
// memory already (no allocation per read).
class LateList {
public:
    LateRead& emplace_back() {
        if (n_ == v_.size()) return v_.emplace_back(), v_[n_++];
        LateRead& lr = v_[n_++];
        lr.arg = -1;
        lr.addr = 0;
        lr.len = 0;
        lr.ok = false;
        lr.bytes.clear();
        lr.why = {};
        lr.stack = false;
        return lr;
    }
    void push_back(LateRead lr) { std::swap(emplace_back(), lr); }
    void clear() { n_ = 0; }
    void reserve(std::size_t k) { v_.reserve(k); }
    std::size_t capacity() const { return v_.capacity(); }
    std::size_t size() const { return n_; }
    bool empty() const { return n_ == 0; }
    LateRead& operator[](std::size_t i) { return v_[i]; }
    const LateRead& operator[](std::size_t i) const { return v_[i]; }
    LateRead* begin() { return v_.data(); }
    LateRead* end() { return v_.data() + n_; }
    const LateRead* begin() const { return v_.data(); }
    const LateRead* end() const { return v_.data() + n_; }

private:
    std::vector<LateRead> v_; // [0, n_) in use; the rest kept for their strings
    std::size_t n_ = 0;
};

struct Record {
    RecordKind kind = RecordKind::Event;
    std::uint64_t ts = 0; // trace clock, ns
    int cpu = 0;
    int tid = 0;                    // common_pid: the thread id
    int probe = -1;                 // index in the probe table given to the Decoder
    std::vector<FieldValue> values; // parallel to that probe's fields
    std::int64_t lost = 0;          // RecordKind::Lost: events lost from ts on (-1 = unknown)
    std::uint64_t until = 0;        // RecordKind::Lost: they were all made before this (0: not known)
    LateList late;                  // filled by LateReads::prefetch()
};

// Records whose objects are kept for reuse: clear(), drop_front() and
// remove_if() keep what they remove, with their vectors' memory, for the
// next add(). Decoding into one allocates nothing once it has grown to a
// round's records (Decoder, Merger).
class RecordBuffer {
public:
    RecordBuffer() = default;
    RecordBuffer(std::initializer_list<Record> records) {
        for (const auto& r : records)
            push_back(r);
    }
    // The next record, as default-constructed but for its vectors' capacity.
    Record& add() {
        Record& r = reuse();
        r.values.clear();
        return r;
    }
    // The same, but values keeps its elements as they were, to be resized and
    // every one set (Decoder: no value constructed again for each record).
    Record& reuse() {
        if (n_ == v_.size()) return v_.emplace_back(), v_[n_++];
        Record& r = v_[n_++];
        // The record after next, used a round ago, may have left the cache: asked for ahead.
        if (n_ + 1 < v_.size()) __builtin_prefetch(v_[n_ + 1].values.data(), 1);
        r.kind = RecordKind::Event;
        r.ts = 0;
        r.cpu = 0;
        r.tid = 0;
        r.probe = -1;
        r.lost = 0;
        r.until = 0;
        r.late.clear();
        return r;
    }
    void push_back(Record r) { std::swap(add(), r); }
    void pop_back() { --n_; }
    void clear() { n_ = 0; }
    // Remove the first k records: the rest move to the front, one swap each
    // (what was removed goes behind them, in no particular order).
    void drop_front(std::size_t k) {
        if (k == 0) return;
        for (std::size_t i = 0; i + k < n_; ++i)
            std::swap(v_[i], v_[i + k]);
        n_ -= k;
    }
    // Remove the records from `from` on that pred holds for (the others keep their order).
    template <typename Pred> void remove_if(std::size_t from, Pred pred) {
        std::size_t w = from;
        for (std::size_t i = from; i < n_; ++i)
            if (!pred(v_[i])) {
                if (w != i) std::swap(v_[w], v_[i]);
                ++w;
            }
        n_ = w;
    }
    std::size_t size() const { return n_; }
    bool empty() const { return n_ == 0; }
    Record& operator[](std::size_t i) { return v_[i]; }
    const Record& operator[](std::size_t i) const { return v_[i]; }
    Record& back() { return v_[n_ - 1]; }
    Record* begin() { return v_.data(); }
    Record* end() { return v_.data() + n_; }
    const Record* begin() const { return v_.data(); }
    const Record* end() const { return v_.data() + n_; }

private:
    std::vector<Record> v_; // [0, n_) in use; the rest kept for reuse
    std::size_t n_ = 0;
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
    void decode_page(int cpu, const void* page, std::size_t len, RecordBuffer& out,
                     bool inband_losses = true) const;
    // Only the lost record of a sub-buffer (missed events flagged on it), without
    // decoding its events: what a recording run (-w) needs to account losses.
    void page_losses(int cpu, const void* page, std::size_t len, RecordBuffer& out) const;
    int page_size() const;

private:
    bool sane(const void* page, std::size_t len) const;
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace mqtrace
