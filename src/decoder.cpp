// Ring-buffer page decoding with libtraceevent. See include/mqtrace/decoder.hpp.
#include "mqtrace/decoder.hpp"

// kbuffer.h has no extern "C" guard of its own.
extern "C" {
#include <event-parse.h>
#include <kbuffer.h>
}

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace mqtrace {

struct Decoder::Impl {
    // Where a field lies in a record, copied out of libtraceevent's format once.
    struct Slot {
        int offset = 0, size = 0;
        bool dynamic = false, relative = false, char_array = false, is_signed = false;
    };
    struct Ev {
        int probe = -1; // -1: not ours
        std::vector<Slot> fields;
    };
    tep_handle* tep = nullptr;
    kbuffer* kbuf = nullptr;
    int page = 4096;
    bool swap = false;                  // the pages' byte order is not this machine's
    std::vector<Ev> by_id;              // indexed by event id (16 bits)
    std::vector<unsigned char> scratch; // full-size copy of a short read

    // Numbers are read in the recording machine's byte order; tep_read_number
    // swaps when the file says so, the native cases are read directly.
    std::uint64_t number(const unsigned char* p, int size) const {
        if (swap) return tep_read_number(tep, p, size);
        switch (size) {
        case 1: return *p;
        case 2: {
            std::uint16_t v;
            std::memcpy(&v, p, 2);
            return v;
        }
        case 4: {
            std::uint32_t v;
            std::memcpy(&v, p, 4);
            return v;
        }
        case 8: {
            std::uint64_t v;
            std::memcpy(&v, p, 8);
            return v;
        }
        default: return tep_read_number(tep, p, size);
        }
    }

    ~Impl() {
        if (kbuf) kbuffer_free(kbuf);
        if (tep) tep_free(tep);
    }

    void value(const Slot* f, const unsigned char* data, std::size_t size, FieldValue& v) const {
        if (f->offset + f->size > static_cast<int>(size)) {
            v.fault = true;
            return;
        }
        if (f->dynamic) {
            v.is_str = true;
            const auto dl = static_cast<std::uint32_t>(number(data + f->offset, 4));
            std::size_t off = dl & 0xffff;
            const std::size_t len = dl >> 16;
            if (f->relative) off += static_cast<std::size_t>(f->offset + f->size);
            if (len == 0 || off + len > size) {
                v.fault = true; // failed fetch, or a string too long for the kernel to record
                return;
            }
            const char* s = reinterpret_cast<const char*>(data + off);
            v.str.assign(s, strnlen(s, len));
            return;
        }
        if (f->char_array) {
            v.is_str = true;
            const char* s = reinterpret_cast<const char*>(data + f->offset);
            v.str.assign(s, strnlen(s, static_cast<std::size_t>(f->size)));
            return;
        }
        std::uint64_t n = number(data + f->offset, f->size);
        if (f->is_signed && f->size < 8) {
            const int shift = 64 - 8 * f->size;
            n = static_cast<std::uint64_t>(static_cast<std::int64_t>(n << shift) >> shift);
        }
        v.num = static_cast<std::int64_t>(n);
    }
};

Decoder::Decoder(std::string_view header_page, const std::vector<EventFormat>& events)
    : impl_(std::make_unique<Impl>()) {
    auto& I = *impl_;
    I.tep = tep_alloc();
    if (!I.tep) throw std::runtime_error("out of memory");
    tep_set_long_size(I.tep, 8);
    std::string hp(header_page);
    if (tep_parse_header_page(I.tep, hp.data(), hp.size(), 8) != 0)
        throw std::runtime_error("cannot parse events/header_page");
    // The data field of header_page gives the sub-buffer size.
    if (auto p = hp.find("char data;"); p != std::string::npos) {
        auto o = hp.find("offset:", p), s = hp.find("size:", p);
        if (o != std::string::npos && s != std::string::npos)
            I.page = std::stoi(hp.substr(o + 7)) + std::stoi(hp.substr(s + 5));
    }
    I.swap = tep_is_file_bigendian(I.tep) != tep_is_local_bigendian(I.tep);
    I.kbuf = tep_kbuffer(I.tep);
    if (!I.kbuf) throw std::runtime_error("cannot allocate kbuffer");
    for (const auto& e : events) {
        if (tep_parse_event(I.tep, e.format.data(), e.format.size(), e.system.c_str()) != 0)
            throw std::runtime_error("cannot parse the format of an event of " + e.system);
        // The event just parsed is found by its name line.
        auto np = e.format.find("name: ");
        std::string name = e.format.substr(np + 6, e.format.find('\n', np) - np - 6);
        tep_event* ev = tep_find_event_by_name(I.tep, e.system.c_str(), name.c_str());
        if (!ev) throw std::runtime_error("event " + e.system + "/" + name + " not parsed");
        if (e.fields.size() > kMaxFields)
            throw std::runtime_error("event " + e.system + "/" + name + " fetches more than " +
                                     std::to_string(kMaxFields) + " fields");
        Impl::Ev d{e.probe, {}};
        // Syscall tracepoint arguments follow __syscall_nr, in prototype order.
        std::vector<tep_format_field*> positional;
        bool after_nr = false;
        for (tep_format_field* f = ev->format.fields; f; f = f->next) {
            if (after_nr && !(f->flags & TEP_FIELD_IS_DYNAMIC)) positional.push_back(f);
            if (std::strcmp(f->name, "__syscall_nr") == 0) after_nr = true;
        }
        for (const auto& fl : e.fields) {
            tep_format_field* f = nullptr;
            if (fl.pos >= 0 && fl.name.empty()) {
                if (fl.pos < static_cast<int>(positional.size())) f = positional[fl.pos];
            } else {
                f = tep_find_field(ev, fl.name.c_str());
            }
            if (!f)
                throw std::runtime_error("event " + e.system + "/" + name + " has no field '" +
                                         (fl.name.empty() ? fl.key : fl.name) + "'");
            d.fields.push_back(Impl::Slot{f->offset, f->size, (f->flags & TEP_FIELD_IS_DYNAMIC) != 0,
                                          (f->flags & TEP_FIELD_IS_RELATIVE) != 0,
                                          (f->flags & TEP_FIELD_IS_ARRAY) && (f->flags & TEP_FIELD_IS_STRING),
                                          (f->flags & TEP_FIELD_IS_SIGNED) != 0});
        }
        if (ev->id < 0 || ev->id > 0xffff) throw std::runtime_error("event " + name + " has an invalid id");
        if (I.by_id.size() <= static_cast<std::size_t>(ev->id))
            I.by_id.resize(static_cast<std::size_t>(ev->id) + 1);
        I.by_id[static_cast<std::size_t>(ev->id)] = std::move(d);
    }
}

Decoder::~Decoder() = default;

// A sub-buffer's header (u64 timestamp, then a 64-bit commit word whose low
// bits are the data size and bits 30/31 the missed-events flags) must describe
// data inside the sub-buffer, and inside what was read: kbuffer trusts it.
bool Decoder::sane(const void* page, std::size_t len) const {
    constexpr std::size_t kHeader = 16;
    if (len < kHeader || len > static_cast<std::size_t>(impl_->page)) return false;
    std::uint64_t commit;
    std::memcpy(&commit, static_cast<const unsigned char*>(page) + 8, 8);
    const std::uint64_t size = commit & ((1ull << 30) - 1);
    const bool stored = commit & (1ull << 30);
    return kHeader + size + (stored ? 8 : 0) <= len;
}

int Decoder::page_size() const { return impl_->page; }

void Decoder::page_losses(int cpu, const void* page, std::size_t len, std::vector<Record>& out) const {
    auto& I = *impl_;
    if (!sane(page, len)) return;
    std::vector<unsigned char> copy(static_cast<std::size_t>(std::max<int>(I.page, static_cast<int>(len))),
                                    0);
    std::memcpy(copy.data(), page, len);
    if (kbuffer_load_subbuffer(I.kbuf, copy.data()) < 0) return;
    if (const int missed = kbuffer_missed_events(I.kbuf); missed != 0) {
        Record lost;
        lost.kind = RecordKind::Lost;
        lost.ts = kbuffer_timestamp(I.kbuf);
        lost.cpu = cpu;
        lost.lost = missed;
        out.push_back(std::move(lost));
    }
}

void Decoder::decode_page(int cpu, const void* page, std::size_t len, std::vector<Record>& out,
                          bool inband_losses) const {
    auto& I = *impl_;
    if (!sane(page, len)) return;
    // kbuffer wants a writable sub-buffer of the full size; copy short reads.
    void* buf = const_cast<void*>(page);
    if (static_cast<int>(len) < I.page) {
        I.scratch.assign(static_cast<std::size_t>(I.page), 0);
        std::memcpy(I.scratch.data(), page, len);
        buf = I.scratch.data();
    }
    if (kbuffer_load_subbuffer(I.kbuf, buf) < 0) return;
    unsigned long long ts = 0;
    bool first = true;
    for (void* d = kbuffer_read_event(I.kbuf, &ts); d; d = kbuffer_next_event(I.kbuf, &ts)) {
        if (first) {
            first = false;
            if (int missed = kbuffer_missed_events(I.kbuf); missed != 0 && inband_losses) {
                Record lost;
                lost.kind = RecordKind::Lost;
                lost.ts = ts;
                lost.cpu = cpu;
                lost.lost = missed;
                out.push_back(std::move(lost));
            }
        }
        const auto* data = static_cast<const unsigned char*>(d);
        const int size = kbuffer_event_size(I.kbuf);
        if (size < 8) continue;
        const auto id = static_cast<std::size_t>(I.number(data, 2));
        if (id >= I.by_id.size() || I.by_id[id].probe < 0) continue;
        const Impl::Ev& e = I.by_id[id];
        Record& r = out.emplace_back();
        r.ts = ts;
        r.cpu = cpu;
        r.tid = static_cast<int>(I.number(data + 4, 4));
        r.probe = e.probe;
        r.values.resize(e.fields.size());
        for (std::size_t i = 0; i < e.fields.size(); ++i)
            I.value(&e.fields[i], data, static_cast<std::size_t>(size), r.values[i]);
    }
}

} // namespace mqtrace
