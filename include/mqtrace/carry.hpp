// -w going on in a new file (--rotate-size, -G, SIGHUP): each file reads on
// its own with -r, and every call is shown by exactly one of them, whole.
//
// A call is shown by the file that holds the record ending it (its return).
// So when a file ends at a read round, at the boundary B (the highest round
// mark so far: every record up to B has been read), the next file carries
// copies of the sub-buffers holding what the calls still in progress at B
// began with (libc-wrapper record, entry, inner probes; and the stack copies
// they pair with), and of those holding records after B, which the ending
// file leaves to the next (records of other CPUs older than them may still
// come). -r of the ending file stops at B and leaves the calls in progress
// to the next; -r of the next one feeds those carried records first (see
// Recording::continues).
//
// CarryTracker follows, from the sub-buffers as they are written (event
// headers only: type and thread, nothing decoded), which records those are,
// the way the correlator pairs them. Pure; bounded by the calls in progress.
#pragma once

#include "mqtrace/plan.hpp"
#include "mqtrace/recording.hpp"
#include "mqtrace/stack.hpp"
#include "mqtrace/subbuf.hpp"

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mqtrace {

using PageRef = std::shared_ptr<const RawPage>;

struct Carry {
    std::uint64_t boundary = 0; // records up to here are the ending file's
    std::vector<int> threads;   // whose records it carries
    std::vector<std::pair<int, std::uint64_t>>
        open;                      // thread, time of the first record of its call in progress
    std::vector<PageRef> pages;    // the sub-buffers to carry, in the order written
    std::vector<StackCopy> stacks; // the stack copies to carry
};

class CarryTracker {
public:
    // The probe table and event formats of the recording (as RecordingWriter::meta gets them).
    CarryTracker(const std::string& header_page, const std::vector<Probe>& table,
                 const std::vector<std::string>& formats);
    void page(const PageRef& p);         // a sub-buffer, as written
    void stack_copy(const StackCopy& s); // a stack copy, as written
    void round(std::uint64_t mark);      // the end of a read round: records up to mark are all read
    Carry carry() const;                 // at a round's end: what the next file starts with
    // The threads alive when the recording started (its 'T' chunks).
    void seed(const std::vector<Recording::Task>& alive);
    // The threads a new file names ('T'): those known now (from the seed and
    // the task events since: created, renamed, not exited), and those gone
    // whose records it carries. Empty if the task events are not traced.
    std::vector<Recording::Task> tasks(const Carry& c);

private:
    struct Ref {
        std::uint64_t ts;
        int cpu, tid;
        Role role;
        int ev;
        PageRef page;
    };
    struct Thread {
        int ev = -1;            // the call in progress (-1: none)
        std::uint64_t from = 0; // its first record (the wrapper's, or the entry's)
        std::vector<PageRef> pages;
        std::vector<StackCopy> stacks;
        bool wrapper = false; // a libc-wrapper record waiting for its entry
        std::uint64_t wrapper_ts = 0;
        PageRef wrapper_page;
        std::vector<Ref> unsettled; // records after the highest mark so far, not yet applied
    };
    struct ProbeUse {
        Role role;
        int ev;
        std::size_t tid_at;       // where the thread id is in the event's data
        std::size_t comm_at = 0;  // task events: the (new) command name
        std::size_t flags_at = 0; // task creation: clone flags
    };
    void task_event(const ProbeUse& u, const unsigned char* data, std::size_t size, int parent);
    std::unordered_map<int, Recording::Task> known_; // thread -> process, command name
    std::vector<int> exited_;                        // since the last tasks()
    bool task_events_ = false;
    void apply(Thread& t, int tid, const Ref& r);
    SubbufLayout layout_;
    std::unordered_map<int, ProbeUse> by_type_; // event type id -> what its records are
    std::unordered_map<int, Thread> threads_;
    std::vector<int> waiting_;                              // threads with unsettled records
    std::unordered_map<int, std::deque<StackCopy>> copies_; // not yet paired with a settled entry
    struct Written {
        PageRef page;
        std::uint64_t last; // its latest record
    };
    std::deque<Written> recent_; // sub-buffers holding records after the highest mark
    std::uint64_t settled_ = 0;
    Subbuf walk_;
};

} // namespace mqtrace
