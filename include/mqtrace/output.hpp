// Where the events go: standard output or -o FILE, line by line to a
// terminal, a pipe or a socket, in large blocks to a file. A closed pipe ends
// the run quietly; any other write error is kept for the caller to report.
#pragma once

#include "mqtrace/format.hpp"

#include <string>

namespace mqtrace {

class Output {
public:
    explicit Output(const std::string& path); // "" = standard output; throws naming the file and errno
    ~Output();
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

private:
    std::string name_;
    int fd_ = 1;
    bool own_ = false;
    bool broken_ = false;
    int err_ = 0;
    std::string buf_;
    long pending_ = 0, written_ = 0;
    bool line_buffered_ = false;
};

} // namespace mqtrace
