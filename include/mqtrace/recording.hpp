// Recordings (-w FILE, -r FILE): what a run read from the kernel, raw and
// undecoded, with everything needed to decode it later on any machine: the
// header page, the probe table and each probe's event format, the recording
// run's own thread (its self-test calls are not shown), the kernel it ran on,
// every raw sub-buffer in the order it was read, and the lost-event records
// made exact while recording.
//
// File format: the line "MQTRACE-RECORDING 1\n", then chunks of one type byte,
// a little-endian u32 payload length and the payload:
//   H header_page text   K "release arch"   S self tid (decimal)
//   C i64 wall clock minus trace clock (ns)    T "tid pid comm" of a thread alive at the start
//   P probe table text   F event format (one per probe, in table order)
//   D u32 cpu + one sub-buffer
//   L u32 cpu, u64 ts, i64 count, u64 until (a lost record: its gap's start
//     and end; 0 or absent (recordings before the end was kept): not known)
//   R u64 mark: the end of a read round; records up to mark were all read
//   U a stack copy (--user-reads stack/auto): u32 tid, i32 event, u64 ts,
//     u64 args[6], u64 sp, then the stack bytes
//   V u64 stack copies the perf buffers had lost so far (when it grows)
// A recording that goes on in another file (--rotate-size, -G, SIGHUP; see
// carry.hpp) ends with
//   N u64 boundary: records after it, and the calls in progress at it, are the next file's
// and the next file has, after its metadata and before its own data,
//   B u64 boundary: the earlier file's (records up to it are that file's)
//   O u32 tid, u64 ts: a call in progress at the boundary, from its record at ts
//   X u32 cpu + one sub-buffer carried from the earlier file (its records
//     after the boundary, and those of the calls in progress, are used)
//   U the stack copies those calls may pair with
// Metadata (H K S C T P F) comes before the first D or L; B before O and X,
// and they before any D, L, R or V; nothing after N.
#pragma once

#include "mqtrace/decoder.hpp"
#include "mqtrace/plan.hpp"
#include "mqtrace/rotate.hpp"
#include "mqtrace/stack.hpp"

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mqtrace {

struct RawPage {
    int cpu;
    std::string bytes;
};

// A sub-buffer of a loaded recording: a view into Recording::storage (the
// file's bytes, read once and never copied page by page).
struct PageView {
    int cpu;
    std::string_view bytes;
};

struct Recording {
    std::shared_ptr<const std::string> storage; // what pages and carried view
    std::string header_page;
    std::vector<Probe> probes;           // the table Record::probe indexes
    std::vector<std::string> formats;    // parallel to probes
    std::vector<PageView> pages;         // in the order they were read
    std::vector<Record> losses;          // exact lost records (file format)
    std::vector<std::size_t> loss_round; // parallel to losses: the round it was recorded in
    struct Round {
        std::size_t pages; // pages read before the round ended
        std::uint64_t mark;
    };
    std::vector<Round> rounds;            // as the recording run read them (file format)
    std::vector<StackCopy> stacks;        // stack copies taken at syscall entry
    std::vector<std::size_t> stack_round; // parallel to stacks: the round it was recorded in
    std::vector<std::size_t> stack_lossy; // rounds in which stack copies were lost
    bool exact_losses = false;            // false (directory format): the pages' in-band counts
    int self_tid = -1;                    // the recording run's thread: its calls are canaries
    bool selected = false; // calls were selected in the kernel (-p, -t, --comm, -x): not all are here
    std::string kernel;    // "release arch" of the recording machine
    std::int64_t clock_offset_ns = 0; // wall clock minus trace clock when recorded
    struct Task {
        int tid, pid;
        std::string comm;
    };
    std::vector<Task> tasks; // threads alive when the recording started
    // This file continues an earlier one ('B', 'O', 'X'): the carried
    // sub-buffers' records after begin, and those of the threads in open from
    // their time on (wrapper, entry, inner), are read first.
    bool continues = false;
    std::uint64_t begin = 0;
    std::vector<std::pair<int, std::uint64_t>> open;
    std::vector<PageView> carried;
    // Another file continues this one ('N'): records after end, and the
    // calls still in progress at it, are shown by that one.
    bool continued = false;
    std::uint64_t end = 0;
};

class RecordingWriter {
public:
    // Throws std::runtime_error naming the file and the errno. With rotation
    // (r.active()), path names the files (FileNames) and the first is opened.
    // "-": standard output (not a terminal), which never rotates or moves.
    explicit RecordingWriter(const std::string& path, const RotateOptions& r = {});
    ~RecordingWriter();
    RecordingWriter(const RecordingWriter&) = delete;
    RecordingWriter& operator=(const RecordingWriter&) = delete;

    void meta(const std::string& header_page, const std::vector<Probe>& probes,
              const std::vector<std::string>& formats, int self_tid, const std::string& kernel,
              std::int64_t clock_offset_ns, const std::vector<Recording::Task>& tasks, bool selected = false);
    void page(int cpu, const void* bytes, std::size_t len);
    void lost(const Record& r);
    void round(std::uint64_t mark);
    void stack_copy(const StackCopy& s);
    void stack_lost(std::uint64_t total);
    void flush();                                     // throws on a write error (ENOSPC...)
    std::uint64_t bytes() const { return bytes_; }    // in all files
    const std::string& path() const { return path_; } // of the file being written
    // Going on in another file (the caller then writes meta(), continues(),
    // carried_page() and the carried stack_copy()s):
    // true when a read round of more bytes would take the file past
    // --rotate-size (a file holds at least one round).
    bool full(std::size_t more) const;
    // End this file at boundary ('N') and open the next name (same: the same
    // name again, SIGHUP); throws when it cannot be opened.
    void next_file(std::uint64_t boundary, bool same);
    bool moved() const; // the file's name no longer names it (logrotate moved it)
    void continues(std::uint64_t boundary, const std::vector<std::pair<int, std::uint64_t>>& open);
    void carried_page(int cpu, const void* bytes, std::size_t len);
    unsigned files() const { return files_; }
    const std::string& first_path() const { return first_; }

private:
    void chunk(char type, std::string_view head, std::string_view body = {});
    void open_file(const std::string& path);
    std::string path_, first_;
    std::FILE* f_ = nullptr;
    std::uint64_t bytes_ = 0, file_bytes_ = 0, data_bytes_ = 0;
    std::unique_ptr<FileNames> names_;
    RotateOptions rotate_;
    unsigned files_ = 1;
    bool to_stdout_ = false; // "-"
};

// A recording file (-w), or a directory saved by earlier versions
// (tests/fixtures). Throws std::runtime_error saying what is wrong and where:
// a damaged or hostile recording is an error, never a crash.
Recording load_recording(const std::string& path);
Recording parse_recording(std::string bytes); // the file format, from memory

// What the chunks read so far allow next (see the file format above).
struct ChunkState {
    bool have_probes = false, data = false, own_data = false, ended = false;
};

// A recording read one round at a time (-r): memory holds its metadata and
// one round's chunks, whatever the file's size; a file, a pipe, "-" for
// standard input, or a directory of earlier versions (read whole). Errors as load_recording's,
// the file's name first; a damaged part is found when it is reached.
class RecordingStream {
public:
    explicit RecordingStream(const std::string& path); // reads the metadata and carried data
    ~RecordingStream();
    RecordingStream(const RecordingStream&) = delete;
    RecordingStream& operator=(const RecordingStream&) = delete;

    // Metadata, probes, formats and what an earlier file carried over.
    const Recording& head() const { return head_; }
    // The next part of the data into part (its data members; the rest left
    // empty): the chunks up to and including the next 'R', or to the end.
    // Its views stay valid until the next call. False at the end.
    bool next(Recording& part);
    // The file's name ("standard input" for "-").
    const std::string& name() const { return path_; }
    // The bytes buffered: the largest part, or 1 MiB, at most twice over.
    std::size_t buffered() const { return buf_.size(); }

private:
    std::size_t fill(std::size_t need); // bytes from beg_ on, read until need or the end
    void read_head();
    std::string path_;
    int fd_ = -1;
    std::string buf_; // the file from pos_ on: [beg_, end_) not yet parsed
    std::size_t beg_ = 0, end_ = 0;
    std::uint64_t pos_ = 0;
    bool eof_ = false, whole_ = false, done_ = false;
    ChunkState st_;
    Recording head_;
};

} // namespace mqtrace
