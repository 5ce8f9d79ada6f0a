// Correlator: records in trace order -> calls. Pairs entry with return per
// thread, merges in-context user strings from uprobes, fills what no probe
// captured from /proc/PID/mem (late reads), and attributes pid/comm.
#pragma once

#include "mqtrace/decoder.hpp"
#include "mqtrace/plan.hpp"
#include "mqtrace/tasks.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace mqtrace {

// Reads another process's memory after the fact (the live one uses /proc/TID/mem).
class MemoryReader {
public:
    virtual ~MemoryReader() = default;
    // Fills out with len bytes, or returns false with a reason.
    virtual bool read(int tid, std::uint64_t addr, std::size_t len, std::string& out, std::string& why) = 0;
    // NUL-terminated string of at most max bytes (without the NUL).
    virtual bool read_string(int tid, std::uint64_t addr, std::size_t max, std::string& out,
                             std::string& why) = 0;
};

class ProcMemReader final : public MemoryReader {
public:
    bool read(int tid, std::uint64_t addr, std::size_t len, std::string& out, std::string& why) override;
    bool read_string(int tid, std::uint64_t addr, std::size_t max, std::string& out,
                     std::string& why) override;
};

enum class Content { None, Str, Struct, Unreadable };

struct ArgValue {
    bool present = false; // the argument's register value is known
    std::int64_t raw = 0; // scalar value, or the pointer
    Content content = Content::None;
    std::string str;                   // Content::Str
    std::vector<std::int64_t> members; // Content::Struct, parallel to the layout's members
    Source src = Source::Register;     // where the content came from
    std::string why;                   // Content::Unreadable: the reason
    bool suspect_fault = false;        // the literal "(fault)" (6.1-6.4 failed fetch)
};

// How a call ended. EntryNotSeen: only its return was seen (the entry record
// was lost, or the call began before the trace): its return value is known,
// its arguments are not.
enum class CallEnd { Returned, ThreadExited, NoReturnSeen, TraceEnded, EntryNotSeen };

struct Call {
    int ev = -1;
    std::uint64_t ts = 0, ts_end = 0;
    int cpu = 0;
    int pid = -1, tid = 0;
    std::string comm;
    CallEnd end = CallEnd::TraceEnded;
    std::int64_t ret = 0;
    std::vector<ArgValue> args; // parallel to the catalog's args
};

struct LostNotice {
    std::uint64_t ts = 0;
    int cpu = 0;            // -1: not tied to one CPU
    std::int64_t count = 0; // -1: unknown number
    std::string where;      // "ring buffer", "stats: dropped", "kretprobe maxactive"...
};

struct Item {
    bool is_call = true;
    Call call;
    LostNotice lost;
};

// Read, right now, the user memory that no probe captured for each syscall
// entry in recs (names and structs behind pointers): the syscalls backend's late
// reads, done as soon as the records are read rather than after merging.
// Entries preceded in recs by a libc-wrapper uprobe of the same thread need no
// late read of the values the uprobe captured.
void prefetch_late(std::vector<Record>& recs, const std::vector<Probe>& probes, MemoryReader& mem);

class Correlator {
public:
    // probes: the flat probe table the Decoder's Record::probe indexes.
    Correlator(std::vector<Probe> probes, TaskTable& tasks);
    void feed(const Record& r, std::vector<Item>& out);
    // End of trace: emit calls still waiting for their return.
    void finish(std::vector<Item>& out);
    void set_probes(std::vector<Probe> probes) { probes_ = std::move(probes); }

private:
    void start(const Record& r, const Probe& p, std::vector<Item>& out);
    void merge_wrapper(Call& c, const Record& w);
    void merge_inner(Call& c, const Record& r, const Probe& p);
    static void distrust_probe_reads(Call& c);
    std::vector<Probe> probes_;
    TaskTable& tasks_;
    std::unordered_map<int, Call> open_;      // by tid
    std::unordered_map<int, Record> wrapper_; // libc-wrapper uprobe records by tid, before the syscall
};

} // namespace mqtrace
