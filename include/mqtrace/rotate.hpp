// Files that rotate, tcpdump-style (--rotate-size, -W, -G): the options, the
// names of the files one after the other, and whether a name still names the
// file being written (SIGHUP after logrotate moved it). Pure but for the
// clock and stat(2); the semantics are mqtrace(8)'s ROTATING FILES.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <string>

namespace mqtrace {

struct RotateOptions {
    std::uint64_t size = 0; // --rotate-size, bytes: a new file before one would pass it (0: no limit)
    unsigned count = 0;     // -W: names in a ring of this many, reused (0: no ring)
    unsigned seconds = 0;   // -G: a new file every this many seconds; strftime(3) in FILE expanded
    bool utc = false;       // --utc: strftime in UTC
    bool active() const { return size > 0 || seconds > 0; }
};

// "10" (millions of bytes, as tcpdump's -C), "500k", "2M", "1G" (KiB, MiB,
// GiB: tcpdump's suffixes, upper or lower case). Returns "" and sets bytes,
// or the usage error.
std::string parse_rotate_size(const std::string& s, std::uint64_t& bytes);

// The names of the files, in the order they are opened: FILE (with -G,
// strftime(3) conversions expanded at the time the file is opened); when that
// is the name the previous file had, a number is appended: FILE, FILE1,
// FILE2, ... With -W N the number is always appended, counts modulo N and is
// padded to the digits of N-1: FILE0 ... FILE<N-1>, then FILE0 again.
class FileNames {
public:
    FileNames(std::string pattern, const RotateOptions& o) : pattern_(std::move(pattern)), o_(o) {}
    std::string next(std::time_t now); // the name of the next file to open
    const std::string& current() const { return current_; }
    unsigned opened() const { return opened_; } // files opened so far
    const std::string& first() const { return first_; }

private:
    std::string base(std::time_t now) const;
    std::string pattern_;
    RotateOptions o_;
    std::string last_base_, current_, first_;
    std::uint64_t n_ = 0; // files opened with last_base_ before this one
    unsigned opened_ = 0;
};

// Whether path still names the open file fd (the same device and inode).
bool names_file(const std::string& path, int fd);

} // namespace mqtrace
