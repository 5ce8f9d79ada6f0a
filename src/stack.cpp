// Stack copies through perf events. See include/mqtrace/stack.hpp.
#include "mqtrace/stack.hpp"

#include "mqtrace/catalog.hpp"

#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>

namespace mqtrace {
namespace {

constexpr std::size_t kDataPages = 256;     // 1 MiB per CPU (a power of two)
constexpr std::uint64_t kMatchNs = 1000000; // a copy and its record are stamped within this of each other

int perf_event_open(perf_event_attr* a, int cpu, int group, unsigned long flags) {
    return static_cast<int>(syscall(SYS_perf_event_open, a, -1, cpu, group, flags));
}

template <typename T> T get(const unsigned char* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

} // namespace

bool from_stack(const StackCopy& s, std::uint64_t addr, std::size_t len, std::string& out) {
    if (addr < s.sp || addr - s.sp >= s.bytes.size()) return false;
    const std::size_t off = addr - s.sp;
    if (len > 0) {
        if (len > s.bytes.size() - off) return false;
        out.assign(s.bytes, off, len);
        return true;
    }
    const std::size_t nul = s.bytes.find('\0', off);
    if (nul == std::string::npos) return false; // the string goes on beyond the copy
    out.assign(s.bytes, off, nul - off);
    return true;
}

// The user registers sampled, as bits of sample_regs_user (the kernel's
// asm/perf_regs.h): the six syscall argument registers and the stack pointer.
// x86_64: DX 3, SI 4, DI 5, SP 7, R8 16, R9 17, R10 18; arm64: X0-X5, SP 31.
std::uint64_t sampled_regs(Arch arch) {
    if (arch == Arch::X86_64)
        return (1ull << 3) | (1ull << 4) | (1ull << 5) | (1ull << 7) | (1ull << 16) | (1ull << 17) |
               (1ull << 18);
    if (arch == Arch::Arm64) return 0x3full | (1ull << 31);
    return 0;
}

StackCopies::StackCopies(const std::vector<StackPoint>& tracepoints, Arch arch, std::uint32_t stack_bytes)
    : arch_(arch) {
    const std::uint64_t regs = sampled_regs(arch);
    if (!regs) throw std::runtime_error("stack copies: this architecture is not supported");
    const long ncpu = sysconf(_SC_NPROCESSORS_CONF);
    const long page = sysconf(_SC_PAGESIZE);
    auto fail = [&](const std::string& what) {
        const int err = errno;
        release();
        throw std::runtime_error("stack copies: " + what + ": " + std::strerror(err));
    };
    for (int cpu = 0; cpu < ncpu; ++cpu) {
        Buffer b;
        for (const StackPoint& point : tracepoints) {
            perf_event_attr a{};
            a.type = PERF_TYPE_TRACEPOINT;
            a.size = sizeof a;
            a.config = static_cast<std::uint64_t>(point.id);
            a.sample_period = 1;
            a.sample_type = PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
                            PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
            a.sample_regs_user = regs;
            a.sample_stack_user = stack_bytes;
            a.use_clockid = 1;
            a.clockid = CLOCK_MONOTONIC;
            a.disabled = 1;
            a.watermark = 1;
            a.wakeup_watermark = static_cast<std::uint32_t>(kDataPages * static_cast<std::size_t>(page) / 2);
            const int fd = perf_event_open(&a, cpu, -1, PERF_FLAG_FD_CLOEXEC);
            if (fd < 0) {
                if (errno == ENODEV || errno == ENOENT) break; // CPU offline
                fail("perf_event_open on cpu " + std::to_string(cpu));
            }
            fds_.push_back(fd);
            std::uint64_t pid = 0;
            if (ioctl(fd, PERF_EVENT_IOC_ID, &pid) != 0) fail("PERF_EVENT_IOC_ID");
            point_of_id_[pid] = point;
            if (b.fd < 0) {
                b.fd = fd;
                b.size = (kDataPages + 1) * static_cast<std::size_t>(page);
                b.map = mmap(nullptr, b.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
                if (b.map == MAP_FAILED) {
                    b.map = nullptr;
                    fail("mmap of the perf buffer");
                }
                buffers_.push_back(b);
            } else if (ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, b.fd) != 0) {
                fail("PERF_EVENT_IOC_SET_OUTPUT");
            }
        }
    }
    for (int fd : fds_)
        if (ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) != 0) fail("PERF_EVENT_IOC_ENABLE");
}

StackCopies::~StackCopies() { release(); }

void StackCopies::release() {
    for (auto& b : buffers_)
        if (b.map) munmap(b.map, b.size);
    buffers_.clear();
    for (int fd : fds_)
        close(fd);
    fds_.clear();
}

void StackCopies::drain(StackQueue& q, std::vector<StackCopy>* record) {
    for (auto& b : buffers_) {
        auto* meta = static_cast<perf_event_mmap_page*>(b.map);
        auto* data = static_cast<unsigned char*>(b.map) + meta->data_offset;
        const std::uint64_t size = meta->data_size;
        const std::uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
        std::uint64_t tail = meta->data_tail;
        while (tail + sizeof(perf_event_header) <= head) {
            perf_event_header h;
            for (std::size_t i = 0; i < sizeof h; ++i)
                reinterpret_cast<unsigned char*>(&h)[i] = data[(tail + i) % size];
            if (h.size < sizeof h || tail + h.size > head) break;
            const std::size_t at = tail % size;
            const unsigned char* rec = data + at;
            if (at + h.size > size) { // wraps around the end of the buffer
                scratch_.resize(h.size);
                std::memcpy(scratch_.data(), data + at, size - at);
                std::memcpy(scratch_.data() + (size - at), data, h.size - (size - at));
                rec = scratch_.data();
            }
            if (StackCopy s; h.type == PERF_RECORD_SAMPLE && parse(rec, h.size, s)) {
                if (record) record->push_back(s);
                q.push(std::move(s));
            } else if (h.type == PERF_RECORD_LOST && h.size >= sizeof h + 16)
                lost_ += get<std::uint64_t>(rec + sizeof h + 8);
            tail += h.size;
        }
        __atomic_store_n(&meta->data_tail, tail, __ATOMIC_RELEASE);
    }
}

// { u64 id; u32 pid, tid; u64 time; u64 abi; u64 regs[7]; u64 size; char data[size]; u64 dyn_size; }
// The registers come in the order of their bits (see sampled_regs).
bool StackCopies::parse(const unsigned char* rec, std::size_t len, StackCopy& s) const {
    constexpr std::size_t kRegs = 7;
    std::size_t off = sizeof(perf_event_header);
    auto need = [&](std::size_t n) { return off + n <= len; };
    if (!need(32)) return false;
    const auto id = get<std::uint64_t>(rec + off);
    s.tid = static_cast<int>(get<std::uint32_t>(rec + off + 12));
    s.ts = get<std::uint64_t>(rec + off + 16);
    const auto abi = get<std::uint64_t>(rec + off + 24);
    off += 32;
    if (abi == PERF_SAMPLE_REGS_ABI_NONE || !need(8 * kRegs)) return false; // a kernel thread: no user stack
    std::array<std::uint64_t, kRegs> r{};
    for (std::size_t i = 0; i < kRegs; ++i)
        r[i] = get<std::uint64_t>(rec + off + 8 * i);
    off += 8 * kRegs;
    if (arch_ == Arch::X86_64) { // dx si di sp r8 r9 r10 -> di si dx r10 r8 r9
        s.args = {r[2], r[1], r[0], r[6], r[4], r[5]};
        s.sp = r[3];
    } else { // x0..x5 sp
        s.args = {r[0], r[1], r[2], r[3], r[4], r[5]};
        s.sp = r[6];
    }
    if (!need(8)) return false;
    const auto size = get<std::uint64_t>(rec + off);
    off += 8;
    if (size == 0 || !need(size + 8)) return false;
    const auto dyn = get<std::uint64_t>(rec + off + size);
    s.bytes.assign(reinterpret_cast<const char*>(rec + off), std::min(size, dyn));
    const auto it = point_of_id_.find(id);
    if (it == point_of_id_.end()) return false;
    s.ev = it->second.ev;
    s.at_exit = it->second.at_exit;
    return true;
}

std::optional<StackCopy> StackQueue::take(int tid, std::uint64_t ts, int ev,
                                          const std::array<std::uint64_t, 6>& args, std::size_t nargs,
                                          bool at_exit) {
    auto it = by_tid_.find(tid);
    if (it == by_tid_.end()) return std::nullopt;
    auto& q = it->second;
    while (!q.empty() && q.front().ts + kMatchNs < ts) {
        q.pop_front();
        --waiting_;
    }
    std::optional<StackCopy> out;
    for (auto s = q.begin(); s != q.end() && s->ts <= ts + kMatchNs; ++s)
        if (s->ev == ev && s->at_exit == at_exit) {
            if (std::equal(args.begin(),
                           args.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(nargs, 6)),
                           s->args.begin()))
                out = std::move(*s);
            waiting_ -= static_cast<std::size_t>(s - q.begin()) + 1;
            q.erase(q.begin(), s + 1); // this thread's copies before it can pair with nothing any more
            break;
        }
    if (q.empty()) by_tid_.erase(it);
    return out;
}

namespace {

// A return record of an event with outputs: the copy its thread took at exit
// holds what the kernel wrote through pointers into the stack.
void outputs_from_exit_copy(Record& r, int ev_index, StackQueue& q) {
    const auto e = q.returned(r.tid);
    if (!e || e->ev != ev_index || r.values.empty()) return;
    const EventSpec& ev = catalog()[ev_index];
    std::int64_t ret = r.values[0].num;
    if (ev.ret != RetKind::Size) ret = static_cast<std::int32_t>(ret);
    const auto copy = q.take(r.tid, r.ts, ev_index, e->args, e->nargs, true);
    if (!copy) return;
    for (std::size_t i = 0; i < ev.outs.size(); ++i) {
        const OutSpec& o = ev.outs[i];
        const int pa = arg_index(ev, o.arg);
        const std::uint64_t addr = pa >= 0 && static_cast<std::size_t>(pa) < e->nargs ? e->args[pa] : 0;
        std::int64_t cond = 0;
        if (o.when) {
            const int ca = arg_index(ev, o.when->arg);
            if (ca >= 0 && static_cast<std::size_t>(ca) < e->nargs)
                cond = static_cast<std::int64_t>(e->args[ca]);
        }
        if (addr == 0 || !out_written(o, ret, cond)) continue;
        LateRead lr;
        lr.arg = static_cast<int>(i);
        if (!from_stack(*copy, addr, o.size(), lr.bytes)) continue;
        lr.addr = addr;
        lr.len = o.size();
        lr.ok = true;
        lr.stack = true;
        r.late.push_back(std::move(lr));
    }
    // The body received (--payload): the first bytes of the ret the call returned.
    if (q.payload && ev.body.received() && ret > 0) {
        const int pa = arg_index(ev, ev.body.ptr);
        const std::uint64_t ptr = pa >= 0 && static_cast<std::size_t>(pa) < e->nargs ? e->args[pa] : 0;
        LateRead lr;
        lr.len = std::min<std::size_t>(static_cast<std::size_t>(ret), q.payload);
        if (ptr && from_stack(*copy, ptr + ev.body.offset, lr.len, lr.bytes)) {
            lr.arg = kBodyArg;
            lr.addr = ptr + ev.body.offset;
            lr.ok = lr.stack = true;
            r.late.push_back(std::move(lr));
        }
    }
}

} // namespace

void apply_stack_copies(std::span<Record* const> ready, const std::vector<Probe>& table, StackQueue& q,
                        bool lossy) {
    for (const Record* r : ready)
        lossy = lossy || r->kind == RecordKind::Lost;
    if (lossy) {
        q.clear();
        return;
    }
    for (Record* rp : ready) {
        Record& r = *rp;
        if (r.kind != RecordKind::Event || r.probe < 0 || static_cast<std::size_t>(r.probe) >= table.size())
            continue;
        const Probe& p = table[static_cast<std::size_t>(r.probe)];
        if (p.ev < 0) continue;
        const EventSpec& ev = catalog()[p.ev];
        if (p.role == Role::Return && !ev.outs.empty()) {
            outputs_from_exit_copy(r, p.ev, q);
            continue;
        }
        // Every syscall entry takes its copy, also one with nothing to decode
        // (a NULL timeout): copies never pile up.
        if (p.role != Role::Entry) continue;
        const std::size_t n = std::min(ev.args.size(), r.values.size());
        std::array<std::uint64_t, 6> args{};
        for (std::size_t i = 0; i < n && i < args.size(); ++i)
            args[i] = static_cast<std::uint64_t>(r.values[i].num);
        if (!ev.outs.empty()) q.entered(r.tid, StackQueue::Entered{p.ev, args, n});
        const auto copy = q.take(r.tid, r.ts, p.ev, args, n);
        if (!copy) continue;
        for (auto& lr : r.late) {
            std::string bytes;
            if (!from_stack(*copy, lr.addr, lr.len, bytes)) continue;
            lr.ok = true;
            lr.bytes = std::move(bytes);
            lr.why = {};
            lr.stack = true;
        }
        // The body sent (--payload): its first bytes, when the copy holds them.
        if (q.payload && !ev.body.ptr.empty() && !ev.body.received()) {
            const int pa = arg_index(ev, ev.body.ptr), la = arg_index(ev, ev.body.len_arg);
            const std::uint64_t len = static_cast<std::size_t>(la) < n ? args[la] : 0;
            LateRead lr;
            lr.len = static_cast<std::size_t>(std::min<std::uint64_t>(len, q.payload));
            if (lr.len && static_cast<std::size_t>(pa) < n && args[pa] &&
                from_stack(*copy, args[pa] + ev.body.offset, lr.len, lr.bytes)) {
                lr.arg = kBodyArg;
                lr.addr = args[pa] + ev.body.offset;
                lr.ok = lr.stack = true;
                r.late.push_back(std::move(lr));
            }
        }
    }
}

} // namespace mqtrace
