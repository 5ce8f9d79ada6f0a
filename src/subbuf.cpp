// Sub-buffer walking. See include/mqtrace/subbuf.hpp.
#include "mqtrace/subbuf.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace mqtrace {
namespace {

constexpr unsigned kPadding = 29, kTimeExtend = 30, kTimeStamp = 31;
constexpr unsigned kTsShift = 27;
constexpr std::uint64_t kCommitMask = (1u << 27) - 1;
constexpr std::uint64_t kMissedEvents = 1u << 31, kMissedStored = 1u << 30;

std::uint32_t u32(const unsigned char* p) {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

std::uint64_t word(const unsigned char* p, std::size_t size) {
    if (size == 4) return u32(p);
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}

// "offset:N;" or "size:N;" after `after` in one field line of header_page.
std::size_t number_after(std::string_view text, std::string_view field, std::string_view key,
                         std::size_t dflt) {
    const auto f = text.find(field);
    if (f == std::string_view::npos) return dflt;
    const auto eol = text.find('\n', f);
    const std::string_view line = text.substr(f, eol == std::string_view::npos ? text.npos : eol - f);
    const auto k = line.find(key);
    if (k == std::string_view::npos) return dflt;
    std::size_t v = dflt;
    const char* b = line.data() + k + key.size();
    const auto r = std::from_chars(b, line.data() + line.size(), v);
    return r.ec == std::errc() ? v : dflt;
}

} // namespace

SubbufLayout parse_header_page(std::string_view hp) {
    SubbufLayout l;
    l.commit_size = number_after(hp, "commit;", "size:", 8);
    if (l.commit_size != 4) l.commit_size = 8;
    l.data_offset = number_after(hp, "char data;", "offset:", 8 + l.commit_size);
    if (l.data_offset < 8 + l.commit_size || l.data_offset > 64) l.data_offset = 8 + l.commit_size;
    const std::size_t data = number_after(hp, "char data;", "size:", 4096 - l.data_offset);
    l.page = l.data_offset + data;
    if (l.page < l.data_offset || l.page > (1u << 20)) l.page = 4096;
    return l;
}

namespace {

// Each event found goes to ev[count++]: ev has room for len / 8 of them (an event
// takes at least 8 bytes: a header and 4 bytes of data, or a header and a
// length word).
bool walk(const unsigned char* page, std::size_t len, const SubbufLayout& l, Subbuf& out, SubbufEvent* ev,
          std::size_t& count) {
    out.missed = 0;
    out.damaged = false;
    if (len > l.page) len = l.page;
    if (len < l.data_offset) return false;
    out.ts = word(page, 8);
    const std::uint64_t commit = word(page + 8, l.commit_size);
    std::size_t size = commit & kCommitMask;
    if (commit & kMissedEvents) {
        out.missed = -1;
        const std::size_t at = l.data_offset + size;
        if ((commit & kMissedStored) && at + l.commit_size <= len)
            out.missed = static_cast<std::int64_t>(word(page + at, l.commit_size));
    }
    if (l.data_offset + size > len) { // the header claims more than was read
        out.damaged = true;
        size = len - l.data_offset;
    }
    const unsigned char* d = page + l.data_offset;
    std::uint64_t ts = out.ts;
    for (std::size_t pos = 0; pos + 4 <= size;) {
        const std::uint32_t h = u32(d + pos);
        const unsigned type = h & 31;
        const std::uint64_t delta = h >> 5;
        std::size_t data, dlen; // data offset and length within d
        switch (type) {
        case kPadding:
            if (delta == 0) return true; // the rest of the page is unused
            if (pos + 8 > size) break;
            ts += delta;
            pos += 4 + std::size_t{u32(d + pos + 4)}; // a discarded event
            continue;
        case kTimeExtend:
        case kTimeStamp: {
            if (pos + 8 > size) break;
            const std::uint64_t t = (std::uint64_t{u32(d + pos + 4)} << kTsShift) + delta;
            ts = type == kTimeStamp ? t : ts + t;
            pos += 8;
            continue;
        }
        case 0: {
            if (pos + 8 > size) break;
            const std::uint32_t n = u32(d + pos + 4); // includes itself
            if (n < 4) break;
            data = pos + 8;
            dlen = ((std::size_t{n} - 4) + 3) & ~std::size_t{3};
            if (data + dlen > size) break;
            ts += delta;
            ev[count++] = SubbufEvent{ts, l.data_offset + data, dlen};
            pos = data + dlen;
            continue;
        }
        default:
            data = pos + 4;
            dlen = std::size_t{type} * 4;
            if (data + dlen > size) break;
            ts += delta;
            ev[count++] = SubbufEvent{ts, l.data_offset + data, dlen};
            pos = data + dlen;
            continue;
        }
        out.damaged = true; // an event that does not fit
        return true;
    }
    return true;
}

} // namespace

bool walk_subbuffer(const unsigned char* page, std::size_t len, const SubbufLayout& l, Subbuf& out) {
    len = std::min(len, l.page);
    if (out.store.size() < len / 8 + 1) out.store.resize(len / 8 + 1); // grows only: no fill per page
    std::size_t n = 0;
    const bool ok = walk(page, len, l, out, out.store.data(), n);
    out.events = {out.store.data(), n};
    return ok;
}

} // namespace mqtrace
