// Late reads. See include/mqtrace/late.hpp.
#include "mqtrace/late.hpp"

#include "mqtrace/catalog.hpp"

#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <unordered_map>

namespace mqtrace {
namespace {

constexpr std::size_t kPage = 4096;

std::string vm_error(int err) {
    if (err == ESRCH) return "process exited before it could be read";
    return std::string("bad address (") + std::strerror(err) + ")";
}

// Whose memory a call's buffers are read from: its process (threads share one
// address space, and a thread may have exited before its call is read).
int reader_of(const Call& c) { return c.pid > 0 ? c.pid : c.tid; }

} // namespace

void ProcMemReader::fail(MemRead& r, std::string_view why) {
    r.into->ok = false;
    r.into->bytes.clear();
    auto it = reasons_.find(why);
    if (it == reasons_.end()) it = reasons_.emplace(why).first;
    r.into->why = *it;
}

// A string that did not end in its first chunk: the rest, a page at a time
// (the next page may be unmapped).
void ProcMemReader::finish_string(int tid, MemRead& r) {
    std::string& s = r.into->bytes;
    if (const void* nul = std::memchr(s.data(), 0, s.size())) {
        s.resize(static_cast<std::size_t>(static_cast<const char*>(nul) - s.data()));
        return;
    }
    std::uint64_t addr = r.addr + s.size();
    char buf[256];
    while (s.size() < LateReads::kMaxString) {
        const std::size_t want =
            std::min({sizeof buf, kPage - addr % kPage, LateReads::kMaxString - s.size()});
        iovec local{buf, want}, remote{reinterpret_cast<void*>(addr), want};
        const ssize_t n = process_vm_readv(tid, &local, 1, &remote, 1, 0);
        if (n <= 0) return fail(r, n < 0 ? vm_error(errno) : "short read");
        if (const void* nul = std::memchr(buf, 0, static_cast<std::size_t>(n))) {
            s.append(buf, static_cast<std::size_t>(static_cast<const char*>(nul) - buf));
            return;
        }
        s.append(buf, static_cast<std::size_t>(n));
        addr += static_cast<std::uint64_t>(n);
    }
    fail(r, "longer than " + std::to_string(LateReads::kMaxString) + " bytes");
}

void ProcMemReader::read(int tid, std::span<MemRead> all) {
    // The same memory asked for by several calls (a buffer a loop reuses) is
    // read once: every read of a batch is as late as the others. The first of
    // each (address, length, kind), in the batch's order, reads; a table
    // (open addressing, twice the batch's size) finds the others.
    const std::size_t n = all.size();
    std::size_t size = 16;
    while (size < 2 * n)
        size *= 2;
    table_.assign(size, 0); // a read's index + 1 (0: empty)
    first_.resize(n);
    reads_.clear();
    for (std::size_t i = 0; i < n; ++i) {
        const MemRead& r = all[i];
        std::size_t h =
            static_cast<std::size_t>((r.addr ^ (r.len << 1) ^ r.string) * 0x9e3779b97f4a7c15ull >> 32);
        for (;; ++h) {
            std::uint32_t& slot = table_[h & (size - 1)];
            if (slot == 0) {
                slot = static_cast<std::uint32_t>(i + 1);
                first_[i] = reads_.size();
                reads_.push_back(r);
                break;
            }
            const MemRead& o = all[slot - 1];
            if (o.addr == r.addr && o.len == r.len && o.string == r.string) {
                first_[i] = first_[slot - 1];
                break;
            }
        }
    }
    read_each(tid, reads_);
    for (std::size_t i = 0; i < n; ++i) {
        const LateRead& got = *reads_[first_[i]].into;
        if (all[i].into == &got) continue;
        all[i].into->ok = got.ok;
        all[i].into->bytes = got.bytes;
        all[i].into->why = got.why;
    }
}

void ProcMemReader::read_each(int tid, std::span<MemRead> reads) {
    // A string's first chunk (it stays inside its page) is read into scratch,
    // then only the string is kept: most are short (no allocation).
    constexpr std::size_t kChunk = 256;
    local_.resize(reads.size());
    remote_.resize(reads.size());
    std::size_t strings = 0;
    for (const MemRead& r : reads)
        strings += r.string;
    chunks_.resize(strings * kChunk);
    for (std::size_t i = 0, c = 0; i < reads.size(); ++i) {
        MemRead& r = reads[i];
        r.into->ok = true;
        void* into;
        std::size_t len;
        if (r.string) {
            len = std::min<std::size_t>(kChunk, kPage - r.addr % kPage);
            into = chunks_.data() + kChunk * c++;
        } else {
            len = r.len;
            r.into->bytes.resize(len);
            into = r.into->bytes.data();
        }
        local_[i] = iovec{into, len};
        remote_[i] = iovec{reinterpret_cast<void*>(r.addr), len};
    }
    // The kernel copies whole iovecs: a short count ends at the one that failed.
    for (std::size_t k = 0; k < reads.size();) {
        const std::size_t end = k + std::min<std::size_t>(reads.size() - k, IOV_MAX);
        const ssize_t n = process_vm_readv(tid, &local_[k], end - k, &remote_[k], end - k, 0);
        if (n < 0 && errno != EFAULT) { // the process is gone (or cannot be read): all fail alike
            const std::string why = vm_error(errno);
            for (; k < reads.size(); ++k)
                fail(reads[k], why);
            break;
        }
        auto left = static_cast<std::size_t>(std::max<ssize_t>(n, 0));
        while (k < end && left >= local_[k].iov_len)
            left -= local_[k++].iov_len;
        if (k < end) fail(reads[k++], vm_error(EFAULT)); // this one failed; go on after it
    }
    for (std::size_t i = 0; i < reads.size(); ++i) {
        MemRead& r = reads[i];
        if (!r.string || !r.into->ok) continue;
        const auto* chunk = static_cast<const char*>(local_[i].iov_base);
        const std::size_t len = local_[i].iov_len;
        if (const void* nul = std::memchr(chunk, 0, len)) {
            r.into->bytes.assign(chunk, static_cast<std::size_t>(static_cast<const char*>(nul) - chunk));
            continue;
        }
        r.into->bytes.assign(chunk, len);
        finish_string(tid, r);
    }
}

LateReads::LateReads(const std::vector<Probe>& probes)
    : needs_(probes.size()), wrapper_of_(probes.size(), -1) {
    for (std::size_t i = 0; i < probes.size(); ++i) {
        const Probe& p = probes[i];
        if (p.role != Role::Entry || p.kind != ProbeKind::Tracepoint) continue;
        const EventSpec& ev = catalog()[p.ev];
        for (std::size_t f = 0; f < p.fields.size(); ++f) {
            const int ai = arg_index(ev, p.fields[f].key);
            if (ai < 0) continue;
            const ArgSpec& spec = ev.args[ai];
            if (spec.decode != Decode::Name && !(spec.decode == Decode::Struct && spec.layout)) continue;
            // Newer kernels' syscall events carry the string themselves.
            const bool carried = std::any_of(p.fields.begin(), p.fields.end(), [&](const Field& g) {
                return g.key == std::string(spec.name) + "$str";
            });
            if (carried) continue;
            Need n{f, ai, spec.decode == Decode::Name, spec.layout ? spec.layout->size : 0u};
            // A uprobe on the libc wrapper may have read it in the caller's context.
            for (std::size_t w = 0; w < probes.size(); ++w) {
                if (probes[w].role != Role::Wrapper || probes[w].ev != p.ev) continue;
                wrapper_of_[w] = static_cast<int>(i);
                for (std::size_t g = 0; g < probes[w].fields.size(); ++g)
                    if (probes[w].fields[g].key == "@" + std::string(spec.name))
                        n.wrapper_field = static_cast<int>(g);
            }
            needs_[i].push_back(n);
            most_needs_ = std::max(most_needs_, needs_[i].size());
        }
    }
}

void LateReads::prefetch(std::span<const std::span<Record>> parts, MemoryReader& mem) {
    const std::string_view none = mem.reads_nothing();
    std::unordered_map<int, const Record*> wrapper; // the latest libc-wrapper record per thread
    // Record::late of each record is sized first, so that the reads can point into it.
    for (const auto& recs : parts)
        for (auto& r : recs) {
            if (r.kind != RecordKind::Event || r.probe < 0 ||
                static_cast<std::size_t>(r.probe) >= needs_.size())
                continue;
            if (wrapper_of_[r.probe] >= 0) wrapper[r.tid] = &r;
            const auto& needs = needs_[r.probe];
            if (needs.empty()) continue;
            const Record* w = nullptr;
            if (auto it = wrapper.empty() ? wrapper.end() : wrapper.find(r.tid);
                it != wrapper.end() && wrapper_of_[it->second->probe] == r.probe)
                w = it->second;
            if (r.late.capacity() < needs.size()) r.late.reserve(most_needs_); // once per record kept
            for (const Need& n : needs) {
                if (n.field >= r.values.size()) continue;
                const auto addr = static_cast<std::uint64_t>(r.values[n.field].num);
                if (addr == 0) continue;
                if (w && n.wrapper_field >= 0 &&
                    static_cast<std::size_t>(n.wrapper_field) < w->values.size()) {
                    // glibc passes name + 1 to the kernel for mq_open/mq_unlink.
                    const auto wa = static_cast<std::uint64_t>(w->values[n.wrapper_field].num);
                    if (wa == addr || wa + 1 == addr) continue;
                }
                LateRead& lr = r.late.emplace_back();
                lr.arg = n.arg;
                lr.addr = addr;
                lr.len = n.name ? 0 : n.len;
                if (!none.empty()) lr.why = none; // (ok is false)
            }
        }
    if (!none.empty()) return;
    // One batch per thread, in record order.
    batch_.clear();
    for (const auto& recs : parts)
        for (auto& r : recs)
            for (auto& lr : r.late)
                batch_.push_back(Pending{r.tid, MemRead{lr.addr, lr.len, lr.len == 0, &lr}});
    const auto by_tid = [](const Pending& a, const Pending& b) { return a.tid < b.tid; };
    if (!std::is_sorted(batch_.begin(), batch_.end(), by_tid)) // one thread's: already
        std::stable_sort(batch_.begin(), batch_.end(), by_tid);
    reads_.clear();
    for (std::size_t i = 0; i < batch_.size(); ++i) {
        reads_.push_back(batch_[i].read);
        if (i + 1 == batch_.size() || batch_[i + 1].tid != batch_[i].tid) {
            mem.read(batch_[i].tid, reads_);
            reads_.clear();
        }
    }
}

void OutputReads::fill(std::span<Item> items, MemoryReader& mem) {
    wants_.clear();
    for (Item& it : items) {
        if (!it.is_call || it.call.end != CallEnd::Returned) continue;
        Call& c = it.call;
        const EventSpec& ev = catalog()[c.ev];
        if (c.outs.empty() && (ev.body.ptr.empty() || !payload_)) continue;
        for (std::size_t i = 0; i < ev.outs.size() && i < c.outs.size(); ++i) {
            const OutSpec& o = ev.outs[i];
            const ArgValue& ptr = c.args[static_cast<std::size_t>(arg_refs(c.ev).out_ptr[i])];
            if (c.outs[i].content != Content::None || !ptr.present || ptr.raw == 0 ||
                !out_written(o, c.ret, cond_value(c, o)))
                continue;
            wants_.push_back(Want{&c, i});
        }
        if (payload_ && c.body.content == Content::None && body_address(c) && body_length(c))
            wants_.push_back(Want{&c, kBody});
    }
    if (wants_.empty()) return;
    if (const std::string_view none = mem.reads_nothing(); !none.empty()) {
        for (const Want& w : wants_) {
            ArgValue& a = w.out == kBody ? w.call->body : w.call->outs[w.out];
            a.src = Source::UserLate;
            a.content = Content::Unreadable;
            a.why = none;
        }
        return;
    }
    reads_into_.resize(wants_.size()); // sized before the reads point into it
    batch_.clear();
    for (std::size_t k = 0; k < wants_.size(); ++k) {
        const Call& c = *wants_[k].call;
        const EventSpec& ev = catalog()[c.ev];
        LateRead& lr = reads_into_[k];
        lr = LateRead{};
        if (wants_[k].out == kBody) {
            lr.addr = body_address(c);
            lr.len = static_cast<std::size_t>(std::min<std::uint64_t>(body_length(c), payload_));
            batch_.emplace_back(reader_of(c), MemRead{lr.addr, lr.len, false, &lr});
            continue;
        }
        const OutSpec& o = ev.outs[wants_[k].out];
        lr.addr = static_cast<std::uint64_t>(
            c.args[static_cast<std::size_t>(arg_refs(c.ev).out_ptr[wants_[k].out])].raw);
        lr.len = o.size();
        batch_.emplace_back(reader_of(c), MemRead{lr.addr, lr.len, false, &lr});
    }
    const auto by_reader = [](const auto& a, const auto& b) { return a.first < b.first; };
    if (!std::is_sorted(batch_.begin(), batch_.end(), by_reader))
        std::stable_sort(batch_.begin(), batch_.end(), by_reader);
    for (std::size_t i = 0; i < batch_.size(); ++i) {
        one_.push_back(batch_[i].second);
        if (i + 1 == batch_.size() || batch_[i + 1].first != batch_[i].first) {
            mem.read(batch_[i].first, one_);
            one_.clear();
        }
    }
    for (std::size_t k = 0; k < wants_.size(); ++k) {
        Call& c = *wants_[k].call;
        const LateRead& lr = reads_into_[k];
        if (wants_[k].out == kBody) {
            c.body.src = Source::UserLate;
            if (!lr.ok || lr.bytes.size() < lr.len) {
                c.body.content = Content::Unreadable;
                c.body.why = lr.ok ? std::string_view("short read") : lr.why;
            } else {
                c.body.content = Content::Str;
                c.body.str = lr.bytes;
            }
            continue;
        }
        const OutSpec& o = catalog()[c.ev].outs[wants_[k].out];
        ArgValue& a = c.outs[wants_[k].out];
        a.src = Source::UserLate;
        if (!lr.ok || lr.bytes.size() < o.size()) {
            a.content = Content::Unreadable;
            a.why = lr.ok ? std::string_view("short read") : lr.why;
            continue;
        }
        output_from_bytes(a, o, lr.bytes, Source::UserLate);
    }
}

} // namespace mqtrace
