// One ring-buffer sub-buffer (a page of per_cpu/cpuN/trace_pipe_raw), walked
// event by event. Pure and bounded: every length is checked against the
// sub-buffer before it is used, so damaged or hostile bytes end the walk,
// never loop or read outside. (libtraceevent's kbuffer trusts the lengths: a
// zero-length event made it loop for ever; it is kept as the tests' oracle.)
//
// Layout (kernel/trace/ring_buffer.c): a header of u64 time stamp and a
// commit word (data size in the low 27 bits; bit 31: events were missed
// before this page, bit 30: their count is stored after the data), then
// events of a 32-bit header (type_len:5, time_delta:27) and their data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace mqtrace {

struct SubbufLayout {
    std::size_t commit_size = 8;  // bytes of the commit word (local_t)
    std::size_t data_offset = 16; // where events begin
    std::size_t page = 4096;      // the whole sub-buffer
};
// From the text of events/header_page; the defaults when a field is absent.
SubbufLayout parse_header_page(std::string_view header_page);

struct SubbufEvent {
    std::uint64_t ts;   // trace clock, after all deltas
    std::size_t offset; // of the event's data from the start of the sub-buffer
    std::size_t size;   // of the data (a multiple of 4)
};

struct Subbuf {
    Subbuf() = default;
    Subbuf(const Subbuf&) = delete; // events points into store
    Subbuf& operator=(const Subbuf&) = delete;
    std::uint64_t ts = 0;                // the sub-buffer's time stamp
    std::int64_t missed = 0;             // events missed before it: 0, a count, or -1 (unknown number)
    bool damaged = false;                // a header or event did not fit: the walk stopped there
    std::span<const SubbufEvent> events; // valid until the next walk
    std::vector<SubbufEvent> store;      // walk_subbuffer's: room for a sub-buffer's most events, kept
};

// Walk len bytes of a sub-buffer into out (its store is reused: nothing is
// allocated once it has grown to a sub-buffer's most events).
// Returns false when even the header does not fit (out.events is then empty).
bool walk_subbuffer(const unsigned char* page, std::size_t len, const SubbufLayout& l, Subbuf& out);

} // namespace mqtrace
