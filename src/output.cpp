// Event output. See include/mqtrace/output.hpp.
#include "mqtrace/output.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace mqtrace {

Output::Output(const std::string& path) : name_(path.empty() ? "standard output" : path) {
    if (!path.empty()) {
        fd_ = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd_ < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
        own_ = true;
    }
    // A terminal or a pipe gets each line as it comes (a person, or a
    // consumer such as jq, is waiting for it); a file gets large blocks.
    struct stat st {};
    line_buffered_ = isatty(fd_) || (fstat(fd_, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)));
}

Output::~Output() {
    flush();
    if (own_) close(fd_);
}

void Output::line(const Item& it, const FormatOptions& f) {
    append_item(it, f, buf_);
    buf_ += '\n';
    pending_ += it.is_call;
    if (line_buffered_) flush();
}

void Output::text(std::string_view s) {
    buf_ += s;
    if (line_buffered_) flush();
}

bool Output::flush() {
    std::size_t off = 0;
    while (!broken_ && off < buf_.size()) {
        const ssize_t n = write(fd_, buf_.data() + off, buf_.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            broken_ = true;
            err_ = errno;
            break;
        }
        off += static_cast<std::size_t>(n);
    }
    if (!broken_) written_ += pending_;
    pending_ = 0;
    buf_.clear();
    return !broken_;
}

void Output::closed_by_reader() {
    broken_ = true;
    err_ = EPIPE;
}

} // namespace mqtrace
