// Event output. See include/mqtrace/output.hpp.
#include "mqtrace/output.hpp"

#include "mqtrace/journal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>

namespace mqtrace {

Output::Output(const std::string& path, const RotateOptions& r)
    : name_(path.empty() ? "standard output" : path) {
    if (!path.empty()) {
        if (r.active()) {
            names_ = std::make_unique<FileNames>(path, r);
            name_ = names_->next(std::time(nullptr));
            limit_ = r.size;
        }
        // Appending: a file that logrotate copies and truncates in place goes on from its start.
        fd_ = open(name_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
        if (fd_ < 0) throw std::runtime_error("cannot open " + name_ + ": " + std::strerror(errno));
        own_ = true;
    }
    // A terminal or a pipe gets each line as it comes (a person, or a
    // consumer such as jq, is waiting for it); a file gets large blocks.
    struct stat st {};
    line_buffered_ = isatty(fd_) || (fstat(fd_, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)));
}

Output::~Output() {
    if (perfetto_ && !journal_) buf_ += first_ ? "[]\n" : "]\n";
    flush();
    if (own_) close(fd_);
}

void Output::to_journal() {
    journal_ = std::make_unique<JournalSink>();
    name_ = "the journal";
    fd_ = -1; // nothing to watch: poll() leaves it alone
}

// -f journal: the entry is sent at once; a failed send breaks the output.
void Output::journal_entry(int r, bool call) {
    if (r < 0) {
        broken_ = true;
        err_ = -r;
    } else if (call) {
        ++written_;
    }
}

void Output::line(const Item& it, const FormatOptions& f) {
    if (journal_) {
        if (!broken_) journal_entry(journal_->send(it, f), it.is_call);
        return;
    }
    const std::size_t before = buf_.size();
    if (perfetto_) {
        buf_ += first_ ? '[' : ',';
        first_ = false;
    }
    append_item(it, f, buf_);
    buf_ += '\n';
    if (limit_ && file_bytes_ + buf_.size() > limit_ && file_bytes_ + before > 0) {
        // This line goes to the next file, what came before it to this one.
        std::string line = buf_.substr(before);
        buf_.resize(before);
        flush();
        if (!broken_) open_file(names_->next(std::time(nullptr)), true);
        buf_ = std::move(line);
    }
    pending_ += it.is_call;
    if (line_buffered_) flush();
}

void Output::open_file(const std::string& path, bool truncate) {
    if (fd_ >= 0) close(fd_);
    name_ = path;
    fd_ = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0644);
    struct stat st {};
    file_bytes_ = fd_ >= 0 && fstat(fd_, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
    if (fd_ < 0) {
        broken_ = true;
        err_ = errno;
    }
}

void Output::rotate() {
    if (!names_ || journal_ || broken_) return;
    flush();
    if (!broken_) open_file(names_->next(std::time(nullptr)), true);
}

void Output::reopen() {
    if (!own_ || journal_ || broken_) return;
    flush();
    if (!broken_ && !names_file(name_, fd_)) open_file(name_, false);
}

void Output::text(std::string_view s) {
    if (journal_) {
        if (!broken_) journal_entry(journal_->send_text(s), false);
        return;
    }
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
        file_bytes_ += static_cast<std::uint64_t>(n);
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
