// Decoding a recording (-r FILE) with the same stages as a live run: decoder,
// merge, late reads (which a recording cannot have: marked so), correlator.
#pragma once

#include "mqtrace/context.hpp"
#include "mqtrace/correlator.hpp"
#include "mqtrace/flows.hpp"
#include "mqtrace/late.hpp"
#include "mqtrace/reader.hpp"
#include "mqtrace/recording.hpp"
#include "mqtrace/stack.hpp"
#include "mqtrace/stages.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace mqtrace {

// A recording's calls and lost records, in stream order, each to sink as soon
// as it is complete; the recording run's own (self-test) calls left out.
// Fed the file's data in parts (RecordingStream), or whole.
class Replayer {
public:
    // head: the metadata and carried data (RecordingStream::head), which
    // must outlive the Replayer. Throws std::runtime_error when the event
    // formats do not parse. payload: --payload (bodies from the recorded
    // stack copies; none read late). flows: link receives to sends (Flows),
    // when the recording holds every call.
    Replayer(const Recording& head, std::function<void(Item&&)> sink, std::size_t payload = 0,
             bool flows = false);
    ~Replayer();
    Replayer(const Replayer&) = delete;
    Replayer& operator=(const Replayer&) = delete;

    // The next part of the data, in file order (RecordingStream::next): its
    // rounds as the recording run read them, then its chunks after the last.
    void feed(const Recording& part);
    // The end of the data: the records after the last round, and the calls
    // still in progress (unless another file continues this one).
    void finish();

private:
    void decode_until(const Recording& part, std::size_t end, std::size_t round);
    void emit();
    const Recording& head_;
    std::function<void(Item&&)> sink_;
    Decoder dec_;
    std::optional<LateReads> late_;
    NoMemory none_{"not in the recording (read after the call by live runs only)"};
    TaskTable tasks_{false};
    Correlator c_;
    Merger m_;
    std::vector<Record*> ready_;
    std::vector<Item> items_;
    OutputReads outputs_;
    std::unique_ptr<ProcView> proc_; // the recorded machine's /proc is not here
    QueueContext context_;
    Flows links_;
    CallStages stages_;
    StackQueue stacks_;
    bool stacks_seen_ = false; // a round held stack copies (or their losses)
    bool continued_ = false;   // another file continues this one
    std::uint64_t end_ = 0;    // its boundary
    // Indices into the part being fed.
    std::size_t next_ = 0, next_loss_ = 0, next_stack_ = 0, next_lossy_ = 0;
};

// The calls and lost records of a whole recording, streamed to sink or returned.
void replay(const Recording& r, const std::function<void(Item&&)>& sink, std::size_t payload = 0,
            bool flows = false);
std::vector<Item> replay(const Recording& r, std::size_t payload = 0);

} // namespace mqtrace
