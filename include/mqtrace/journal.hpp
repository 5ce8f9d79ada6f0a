// -f journal: each call one native systemd journal entry with structured
// fields (sd_journal_sendv), lost records as warnings. The fields mirror the
// JSON line (see mqtrace(8), OUTPUT, Journal); values are byte-exact (journal
// fields are binary-safe), so names and command names go in unescaped.
// Building the fields is pure and always compiled; sending needs libsystemd
// (meson option journal).
#pragma once

#include "mqtrace/format.hpp"

#include <sys/uio.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mqtrace {

// PRIORITY= of the entries (syslog levels): a call that succeeded or whose
// outcome is unknown is informational, a failed call a notice, lost records
// a warning (what mqtrace could not show).
inline constexpr int kJournalPrioOk = 6;     // LOG_INFO
inline constexpr int kJournalPrioFailed = 5; // LOG_NOTICE
inline constexpr int kJournalPrioLost = 4;   // LOG_WARNING
inline constexpr std::string_view kJournalIdentifier = "mqtrace";

// True when this mqtrace was built with libsystemd (-f journal works).
bool journal_built();

// "msg_perm.uid" -> "MSG_PERM_UID": a journal field name part (A-Z, 0-9, _).
std::string journal_name(std::string_view s);

// The fields of one entry, each "NAME=value" with the value's exact bytes.
// Reused entry after entry (no allocation per call once warm).
class JournalEntry {
public:
    void clear() {
        buf_.clear();
        spans_.clear();
    }
    void add(std::string_view name, std::string_view value);
    void add_num(std::string_view name, std::int64_t v);
    void add_unum(std::string_view name, std::uint64_t v);
    std::size_t size() const { return spans_.size(); }
    std::string_view field(std::size_t i) const { return {buf_.data() + spans_[i].first, spans_[i].second}; }
    // The fields as iovecs (valid until the entry changes).
    const std::vector<iovec>& iov();
    std::string& buffer() { return buf_; } // for appending a value in place (see begin/end)
    void begin(std::string_view name);     // "NAME=" then the value appended to buffer(), then end()
    void end();

private:
    std::string buf_;
    std::vector<std::pair<std::size_t, std::size_t>> spans_; // offset, length of each field
    std::size_t open_ = 0;
    std::vector<iovec> iov_;
};

// The fields of a call or a lost-record notice. MESSAGE= is the text line.
void journal_fields(const Item& it, const FormatOptions& f, JournalEntry& e);
// A block of text that is not an event (the -c summary): MESSAGE=text, MQTRACE_EVENT=summary.
void journal_text_fields(std::string_view text, JournalEntry& e);

// Sends entries to the journal. The constructor checks that the journal's
// socket takes datagrams (or throws, naming it); send returns 0 or -errno.
class JournalSink {
public:
    JournalSink();
    int send(const Item& it, const FormatOptions& f);
    int send_text(std::string_view text);

private:
    int send_entry();
    JournalEntry e_;
};

} // namespace mqtrace
