// The tracer: kernel facts -> plan -> session -> self-test -> read, decode,
// correlate, format, until the end condition; then tear everything down.
#pragma once

#include "mqtrace/filter.hpp"
#include "mqtrace/format.hpp"
#include "mqtrace/plan.hpp"
#include "mqtrace/rotate.hpp"

#include <string>
#include <vector>

namespace mqtrace {

// Exit statuses, documented in mqtrace(8).
enum Exit : int {
    kExitOk = 0,
    kExitError = 1,       // runtime failure (tracefs, I/O)
    kExitUsage = 2,       // bad command line
    kExitUnsupported = 3, // no probe plan works on this kernel (self-test failed)
    kExitPermission = 4,  // not permitted (not root, lockdown)
    kExitLost = 5,        // --strict: events were lost (everything else went well)
    // With -- COMMAND, mqtrace exits with the command's status; these two are the shell's:
    kExitCommandNotRunnable = 126, // found but not executable
    kExitCommandNotFound = 127,
};

enum class SummaryMode { None, Only, WithEvents }; // -c, -C

struct TraceOptions {
    Backend backend = Backend::Auto;
    std::vector<int> events; // catalog indices
    Selection sel;           // -p, -t, --comm, -u, -x
    FormatOptions fmt;
    std::string output;   // "" = stdout
    bool journal = false; // -f journal: one journal entry per call (fmt.format is Text: MESSAGE=)
    double duration = 0;  // seconds, 0 = until interrupted
    long count = 0;       // calls, 0 = unlimited
    bool dry_run = false;
    UserReads reads = UserReads::Auto;
    std::size_t payload = 0; // --payload: body bytes to show (0: none)
    std::size_t buffer_kb = 4096;
    std::string write_file; // -w: record the raw ring buffer here (no decoding unless print)
    RotateOptions rotate;   // --rotate-size, -W, -G: of -o and -w
    bool print = false;     // --print: with -w, also decode and print
    std::string read_file;  // -r: decode this recording instead of tracing
    SummaryMode summary = SummaryMode::None;
    bool per_process = false;         // --per-process: the summary per process too
    bool strict = false;              // --strict: exit kExitLost when events were lost
    bool flows = true;                // --flows / --no-flows: link each receive to its send (Flows)
    bool quiet = false;               // -q: no banner, header or exit line unless something was lost
    std::vector<std::string> command; // -- COMMAND [ARGS]: run it, trace only it and its descendants
};

int run_trace(const TraceOptions& o);
int run_replay(const TraceOptions& o); // -r FILE
int run_cleanup();
int run_record_profile(const std::string& dir);

} // namespace mqtrace
