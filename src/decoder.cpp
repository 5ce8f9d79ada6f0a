// Ring-buffer page decoding with libtraceevent. See include/mqtrace/decoder.hpp.
#include "mqtrace/decoder.hpp"

#include "mqtrace/subbuf.hpp"

extern "C" {
#include <event-parse.h>
}

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace mqtrace {

struct Decoder::Impl {
    // Where a field lies in a record, copied out of libtraceevent's format once.
    struct Slot {
        int offset = 0, size = 0;
        bool dynamic = false, relative = false, char_array = false, is_signed = false;
        // A native-order number inside the record, read directly: 8, 4 (unsigned)
        // or -4 (signed) bytes; 0: read by value().
        int direct = 0;
    };
    struct Ev {
        int probe = -1; // -1: not ours
        std::vector<Slot> fields;
    };
    tep_handle* tep = nullptr;
    SubbufLayout layout;
    bool swap = false;          // the pages' byte order is not this machine's
    std::vector<Ev> by_id;      // indexed by event id (16 bits)
    std::size_t max_fields = 0; // of any event: a record's values grow once to this, not event by event
    Subbuf sb;                  // the sub-buffer being decoded (its event list is reused)

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
        if (f->is_signed && f->size > 0 && f->size < 8) { // (a hostile format's size 0: nothing to extend)
            const int shift = 64 - 8 * f->size;
            n = static_cast<std::uint64_t>(static_cast<std::int64_t>(n << shift) >> shift);
        }
        v.num = static_cast<std::int64_t>(n);
    }
};

namespace {

// A kernel's format texts are printable ASCII; libtraceevent 1.7's tokenizer
// crashes (a NULL token) on some control bytes: refuse them first.
void printable_ascii(const std::string& text, const std::string& what) {
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if ((c < 0x20 || c > 0x7e) && c != '\n' && c != '\t') {
            char hex[8];
            std::snprintf(hex, sizeof hex, "0x%02x", c);
            throw std::runtime_error(what + " holds byte " + hex + " at offset " + std::to_string(i) +
                                     ": not a kernel's event format");
        }
    }
}

// The format as libtraceevent is given it: without its print format (the
// kernel's own printing, which mqtrace never uses: fields are read by their
// offsets). libtraceevent 1.7 folds constants in print-format expressions
// and divides by zero on a hostile one ("R/C->ret" raised SIGFPE, found by
// fuzz-recording); what it is not given it cannot crash on. The print format
// is found as the tokenizer finds it: "print", "fmt" and ":", whatever
// whitespace lies between them.
std::string fields_only(const std::string& format) {
    auto space = [&](std::size_t i) {
        while (i < format.size() && (format[i] == ' ' || format[i] == '\t' || format[i] == '\n'))
            ++i;
        return i;
    };
    for (std::size_t at = format.find("print"); at != std::string::npos; at = format.find("print", at + 1)) {
        std::size_t i = space(at + 5);
        if (format.compare(i, 3, "fmt") != 0) continue;
        i = space(i + 3);
        if (i < format.size() && format[i] == ':') return format.substr(0, at) + "\nprint fmt: \"\"\n";
    }
    return format;
}

} // namespace

Decoder::Decoder(std::string_view header_page, const std::vector<EventFormat>& events)
    : impl_(std::make_unique<Impl>()) {
    auto& I = *impl_;
    I.tep = tep_alloc();
    if (!I.tep) throw std::runtime_error("out of memory");
    tep_set_long_size(I.tep, 8);
    std::string hp(header_page);
    printable_ascii(hp, "events/header_page");
    if (tep_parse_header_page(I.tep, hp.data(), hp.size(), 8) != 0)
        throw std::runtime_error("cannot parse events/header_page");
    I.layout = parse_header_page(hp);
    I.swap = tep_is_file_bigendian(I.tep) != tep_is_local_bigendian(I.tep);
    for (const auto& e : events) {
        printable_ascii(e.format, "the format of an event of " + e.system);
        const std::string parsed = fields_only(e.format);
        if (tep_parse_event(I.tep, parsed.data(), parsed.size(), e.system.c_str()) != 0)
            throw std::runtime_error("cannot parse the format of an event of " + e.system);
        // The event just parsed is found by its name line.
        auto np = e.format.find("name: ");
        std::string name = e.format.substr(np + 6, e.format.find('\n', np) - np - 6);
        tep_event* ev = tep_find_event_by_name(I.tep, e.system.c_str(), name.c_str());
        if (!ev) throw std::runtime_error("event " + e.system + "/" + name + " not parsed");
        if (e.fields.size() > kMaxFields)
            throw std::runtime_error("event " + e.system + "/" + name + " fetches more than " +
                                     std::to_string(kMaxFields) + " fields");
        I.max_fields = std::max(I.max_fields, e.fields.size());
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
            if (f->offset < 0 || f->size < 0 || f->offset > 0xffff || f->size > 0xffff)
                throw std::runtime_error("event " + e.system + "/" + name + ": field '" + f->name +
                                         "' has offset " + std::to_string(f->offset) + " and size " +
                                         std::to_string(f->size) + ": not a kernel's event format");
            Impl::Slot& sl = d.fields.emplace_back(
                Impl::Slot{f->offset, f->size, (f->flags & TEP_FIELD_IS_DYNAMIC) != 0,
                           (f->flags & TEP_FIELD_IS_RELATIVE) != 0,
                           (f->flags & TEP_FIELD_IS_ARRAY) && (f->flags & TEP_FIELD_IS_STRING),
                           (f->flags & TEP_FIELD_IS_SIGNED) != 0});
            if (!I.swap && !sl.dynamic && !sl.char_array && sl.offset >= 0 && (sl.size == 8 || sl.size == 4))
                sl.direct = sl.size == 4 && sl.is_signed ? -4 : sl.size;
        }
        if (ev->id < 0 || ev->id > 0xffff) throw std::runtime_error("event " + name + " has an invalid id");
        if (I.by_id.size() <= static_cast<std::size_t>(ev->id))
            I.by_id.resize(static_cast<std::size_t>(ev->id) + 1);
        I.by_id[static_cast<std::size_t>(ev->id)] = std::move(d);
    }
}

Decoder::~Decoder() = default;

// A sub-buffer's header (u64 timestamp, then the commit word whose low bits
// are the data size and bits 30/31 the missed-events flags) must describe
// data inside the sub-buffer, and inside what was read.
bool Decoder::sane(const void* page, std::size_t len) const {
    const SubbufLayout& l = impl_->layout;
    if (len < l.data_offset || len > l.page) return false;
    std::uint64_t commit = 0;
    std::memcpy(&commit, static_cast<const unsigned char*>(page) + 8, l.commit_size);
    const std::uint64_t size = commit & ((1ull << 30) - 1);
    const bool stored = commit & (1ull << 30);
    return l.data_offset + size + (stored ? l.commit_size : 0) <= len;
}

int Decoder::page_size() const { return static_cast<int>(impl_->layout.page); }

void Decoder::page_losses(int cpu, const void* page, std::size_t len, RecordBuffer& out) const {
    auto& I = *impl_;
    if (!sane(page, len) || !walk_subbuffer(static_cast<const unsigned char*>(page), len, I.layout, I.sb))
        return;
    if (I.sb.missed != 0) {
        Record& lost = out.add();
        lost.kind = RecordKind::Lost;
        lost.ts = I.sb.events.empty() ? I.sb.ts : I.sb.events.front().ts;
        lost.until = lost.ts; // the sub-buffer after the gap: what was lost came before it
        lost.cpu = cpu;
        lost.lost = I.sb.missed;
    }
}

void Decoder::decode_page(int cpu, const void* page, std::size_t len, RecordBuffer& out,
                          bool inband_losses) const {
    auto& I = *impl_;
    const auto* bytes = static_cast<const unsigned char*>(page);
    if (!sane(page, len) || !walk_subbuffer(bytes, len, I.layout, I.sb)) return;
    if (I.sb.missed != 0 && inband_losses && !I.sb.events.empty()) {
        Record& lost = out.add();
        lost.kind = RecordKind::Lost;
        lost.ts = I.sb.events.front().ts;
        lost.until = lost.ts;
        lost.cpu = cpu;
        lost.lost = I.sb.missed;
    }
    for (const SubbufEvent& ev : I.sb.events) {
        const unsigned char* data = bytes + ev.offset;
        const std::size_t size = ev.size;
        if (size < 8) continue;
        const auto id = static_cast<std::size_t>(I.number(data, 2));
        if (id >= I.by_id.size() || I.by_id[id].probe < 0) continue;
        const Impl::Ev& e = I.by_id[id];
        Record& r = out.reuse(); // every value is set below
        r.ts = ev.ts;
        r.cpu = cpu;
        r.tid = static_cast<int>(I.number(data + 4, 4));
        r.probe = e.probe;
        if (r.values.capacity() < e.fields.size()) r.values.reserve(I.max_fields);
        r.values.resize(e.fields.size());
        FieldValue* vals = r.values.data();
        const Impl::Slot* slots = e.fields.data();
        for (std::size_t i = 0; i < e.fields.size(); ++i) {
            FieldValue& v = vals[i];
            const Impl::Slot& f = slots[i];
            v.num = 0;
            v.str.clear();
            v.is_str = v.fault = false;
            // The common case, read directly: a native-order number inside the record.
            if (f.direct != 0 && static_cast<std::size_t>(f.offset + f.size) <= size) {
                const unsigned char* at = data + f.offset;
                if (f.direct == 8) {
                    std::memcpy(&v.num, at, 8);
                } else if (f.direct == 4) {
                    std::uint32_t n;
                    std::memcpy(&n, at, 4);
                    v.num = n;
                } else {
                    std::int32_t n;
                    std::memcpy(&n, at, 4);
                    v.num = n;
                }
                continue;
            }
            I.value(&f, data, size, v);
        }
    }
}

} // namespace mqtrace
