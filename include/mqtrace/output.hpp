// Where the events go: standard output or -o FILE, line by line to a
// terminal, a pipe or a socket, in large blocks to a file. A closed pipe ends
// the run quietly; any other write error is kept for the caller to report.
#pragma once

#include "mqtrace/format.hpp"
#include "mqtrace/rotate.hpp"

#include <memory>
#include <string>

namespace mqtrace {

class JournalSink;

class Output {
public:
    // "" = standard output; throws naming the file and errno. With rotation
    // (r.active()), path names the files (FileNames) and the first is opened.
    explicit Output(const std::string& path, const RotateOptions& r = {});
    ~Output();
    // -f journal: each item becomes one journal entry instead of a line (and
    // text one entry). Throws when the journal cannot be reached.
    void to_journal();
    // -f perfetto: the lines are the elements of one JSON array, closed at the end.
    void to_perfetto() { perfetto_ = true; }
    Output(const Output&) = delete;
    Output& operator=(const Output&) = delete;

    // The item's line, formatted straight into the buffer.
    void line(const Item& it, const FormatOptions& f);
    void text(std::string_view s);            // lines that are not events (the summary)
    bool flush();                             // false once the output is broken
    long written() const { return written_; } // calls whose lines were written in full
    std::size_t pending_bytes() const { return buf_.size(); }
    bool broken() const { return broken_; }
    int fd() const { return fd_; }
    // The reader of our pipe went away (poll reports POLLERR on the write end).
    void closed_by_reader();
    int error() const { return err_; }
    const std::string& name() const { return name_; }
    // -o FILE that rotates: a line that would take the file past
    // --rotate-size goes to the next file (a file holds at least one line);
    // rotate() starts the next file now (-G). reopen() (SIGHUP): if FILE no
    // longer names the file being written, close it and open FILE again,
    // appending. Both at a line boundary; a file that cannot be opened breaks
    // the output (error() says why).
    void rotate();
    void reopen();
    unsigned files() const { return names_ ? names_->opened() : 1; }

private:
    void journal_entry(int r, bool call);
    void open_file(const std::string& path, bool truncate);
    std::string name_;
    int fd_ = 1;
    bool own_ = false;
    bool broken_ = false;
    int err_ = 0;
    std::string buf_;
    long pending_ = 0, written_ = 0;
    bool line_buffered_ = false;
    bool perfetto_ = false, first_ = true;
    std::unique_ptr<JournalSink> journal_;
    std::unique_ptr<FileNames> names_; // -o with rotation
    std::uint64_t limit_ = 0;          // --rotate-size
    std::uint64_t file_bytes_ = 0;     // written to the file being written
};

} // namespace mqtrace
