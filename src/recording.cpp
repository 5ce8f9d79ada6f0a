// Saving and loading recordings. See include/mqtrace/recording.hpp.
#include "mqtrace/recording.hpp"

#include "mqtrace/catalog.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mqtrace {
namespace {

// The whole file in one string, read in place (a recording can be large:
// no stream buffer, no second copy).
std::string slurp(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
    struct stat st {};
    std::string out;
    // One byte more than a regular file holds, to see its end without growing.
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) out.resize(static_cast<std::size_t>(st.st_size) + 1);
    std::size_t have = 0;
    for (;;) {
        if (have == out.size()) out.resize(std::max<std::size_t>(65536, 2 * have));
        const ssize_t n = ::read(fd, out.data() + have, out.size() - have);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int e = errno;
            ::close(fd);
            throw std::runtime_error("cannot read " + path + ": " + std::strerror(e));
        }
        if (n == 0) break;
        have += static_cast<std::size_t>(n);
    }
    ::close(fd);
    out.resize(have);
    return out;
}

const char* kind_name(ProbeKind k) {
    switch (k) {
    case ProbeKind::Kprobe: return "kprobe";
    case ProbeKind::Kretprobe: return "kretprobe";
    case ProbeKind::Uprobe: return "uprobe";
    case ProbeKind::Tracepoint: return "tracepoint";
    }
    return "?";
}

const char* role_name(Role r) {
    switch (r) {
    case Role::Entry: return "entry";
    case Role::Return: return "return";
    case Role::Wrapper: return "wrapper";
    case Role::TaskNew: return "task_new";
    case Role::TaskRename: return "task_rename";
    case Role::TaskExit: return "task_exit";
    case Role::Inner: return "inner";
    case Role::UidSet: return "uid_set";
    case Role::UidDone: return "uid_done";
    }
    return "?";
}

template <typename E, std::size_t N>
E parse_enum(const std::string& s, const std::pair<const char*, E> (&names)[N]) {
    for (const auto& [n, e] : names)
        if (s == n) return e;
    throw std::runtime_error("bad value in recording: " + s);
}

} // namespace

namespace {

std::string probe_table(const std::vector<Probe>& probes) {
    std::ostringstream t;
    for (const Probe& p : probes) {
        t << "probe " << kind_name(p.kind) << ' ' << role_name(p.role) << ' '
          << (p.ev >= 0 ? std::string(catalog()[p.ev].name) : "-") << ' ' << p.system << ' ' << p.event
          << '\n';
        for (const auto& f : p.fields)
            t << "field " << (f.name.empty() ? "-" : f.name) << ' ' << f.key << ' ' << source_name(f.src)
              << ' ' << f.pos << ' ' << f.bias << '\n';
    }
    return t.str();
}

std::vector<Probe> parse_probe_table(const std::string& text) {
    static const std::pair<const char*, ProbeKind> kinds[] = {{"kprobe", ProbeKind::Kprobe},
                                                              {"kretprobe", ProbeKind::Kretprobe},
                                                              {"uprobe", ProbeKind::Uprobe},
                                                              {"tracepoint", ProbeKind::Tracepoint}};
    static const std::pair<const char*, Role> roles[] = {
        {"entry", Role::Entry},      {"return", Role::Return},          {"wrapper", Role::Wrapper},
        {"task_new", Role::TaskNew}, {"task_rename", Role::TaskRename}, {"task_exit", Role::TaskExit},
        {"inner", Role::Inner},      {"uid_set", Role::UidSet},         {"uid_done", Role::UidDone}};
    static const std::pair<const char*, Source> sources[] = {
        {"register", Source::Register},         {"kernel-copy", Source::KernelCopy},
        {"user-at-entry", Source::UserAtEntry}, {"user-late", Source::UserLate},
        {"user-stack", Source::UserStack},      {"user-at-return", Source::UserAtReturn}};
    std::vector<Probe> out;
    std::istringstream t(text);
    for (std::string line; std::getline(t, line);) {
        std::istringstream ls(line);
        std::string what;
        ls >> what;
        if (what == "probe") {
            std::string kind, role, ev, sys, event;
            if (!(ls >> kind >> role >> ev >> sys >> event))
                throw std::runtime_error("bad probe line: " + line);
            const EventSpec* spec = find_event(ev);
            if (!spec && ev != "-") throw std::runtime_error("unknown event in probe table: " + ev);
            out.push_back(Probe{parse_enum(kind, kinds),
                                sys,
                                event,
                                "",
                                {},
                                parse_enum(role, roles),
                                spec ? event_index(*spec) : -1});
        } else if (what == "field" && !out.empty()) {
            Field f;
            std::string src;
            if (!(ls >> f.name >> f.key >> src >> f.pos >> f.bias))
                throw std::runtime_error("bad field line: " + line);
            if (f.name == "-") f.name.clear();
            f.src = parse_enum(src, sources);
            out.back().fields.push_back(std::move(f));
        } else if (!what.empty()) {
            throw std::runtime_error("bad probe table line: " + line);
        }
    }
    return out;
}

template <typename T> T get(std::string_view b, std::size_t off) {
    T v;
    std::memcpy(&v, b.data() + off, sizeof v);
    return v;
}

constexpr std::string_view kMagic = "MQTRACE-RECORDING 1\n";
constexpr std::size_t kMaxPage = 1 << 20;

} // namespace

RecordingWriter::RecordingWriter(const std::string& path, const RotateOptions& r) : rotate_(r) {
    if (r.active()) names_ = std::make_unique<FileNames>(path, r);
    open_file(names_ ? names_->next(std::time(nullptr)) : path);
    first_ = path_;
}

void RecordingWriter::open_file(const std::string& path) {
    if (path == "-") { // standard output (a copy of it), as tcpdump -w - writes one
        path_ = "standard output";
        to_stdout_ = true;
        if (::isatty(1))
            throw std::runtime_error("standard output is a terminal: -w - writes a binary recording there; "
                                     "redirect it to a file or a pipe");
        const int fd = ::fcntl(1, F_DUPFD_CLOEXEC, 3);
        f_ = fd < 0 ? nullptr : ::fdopen(fd, "wb");
        if (!f_) {
            if (fd >= 0) ::close(fd);
            throw std::runtime_error("cannot write standard output: " + std::string(std::strerror(errno)));
        }
    } else {
        f_ = std::fopen(path.c_str(), "wbe");
        if (!f_) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
        path_ = path;
    }
    if (std::fwrite(kMagic.data(), 1, kMagic.size(), f_) != kMagic.size())
        throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
    bytes_ += kMagic.size();
    file_bytes_ = kMagic.size();
    data_bytes_ = 0;
}

bool RecordingWriter::full(std::size_t more) const {
    return rotate_.size > 0 && data_bytes_ > 0 && file_bytes_ + more > rotate_.size;
}

void RecordingWriter::next_file(std::uint64_t boundary, bool same) {
    chunk('N', std::string(reinterpret_cast<const char*>(&boundary), 8));
    flush();
    const int rc = std::fclose(f_);
    f_ = nullptr;
    if (rc != 0) throw std::runtime_error("cannot write " + path_ + ": " + std::strerror(errno));
    open_file(same || !names_ ? path_ : names_->next(std::time(nullptr)));
    ++files_;
}

bool RecordingWriter::moved() const { return f_ && !to_stdout_ && !names_file(path_, fileno(f_)); }

void RecordingWriter::continues(std::uint64_t boundary,
                                const std::vector<std::pair<int, std::uint64_t>>& open) {
    chunk('B', std::string(reinterpret_cast<const char*>(&boundary), 8));
    for (const auto& [tid, ts] : open) {
        std::string p(12, '\0');
        const auto t = static_cast<std::uint32_t>(tid);
        std::memcpy(p.data(), &t, 4);
        std::memcpy(p.data() + 4, &ts, 8);
        chunk('O', p);
    }
}

void RecordingWriter::carried_page(int cpu, const void* bytes, std::size_t len) {
    const auto c = static_cast<std::uint32_t>(cpu);
    chunk('X', std::string_view(reinterpret_cast<const char*>(&c), 4),
          std::string_view(static_cast<const char*>(bytes), len));
}

RecordingWriter::~RecordingWriter() {
    if (f_) std::fclose(f_);
}

void RecordingWriter::chunk(char type, std::string_view head, std::string_view body) {
    if (!f_) throw std::runtime_error("cannot write " + path_ + ": it could not be opened");
    const std::size_t size = head.size() + body.size();
    const auto len = static_cast<std::uint32_t>(size);
    char hdr[5];
    hdr[0] = type;
    std::memcpy(hdr + 1, &len, 4);
    if (std::fwrite(hdr, 1, 5, f_) != 5 || std::fwrite(head.data(), 1, head.size(), f_) != head.size() ||
        std::fwrite(body.data(), 1, body.size(), f_) != body.size())
        throw std::runtime_error("cannot write " + path_ + ": " + std::strerror(errno));
    bytes_ += 5 + size;
    file_bytes_ += 5 + size;
    if (type == 'D' || type == 'L' || type == 'R') data_bytes_ += 5 + size;
}

void RecordingWriter::meta(const std::string& header_page, const std::vector<Probe>& probes,
                           const std::vector<std::string>& formats, int self_tid, const std::string& kernel,
                           std::int64_t clock_offset_ns, const std::vector<Recording::Task>& tasks,
                           bool selected) {
    chunk('H', header_page);
    if (selected) chunk('Q', "1"); // written only then: files without it read as before
    chunk('K', kernel);
    chunk('S', std::to_string(self_tid));
    chunk('C', std::string(reinterpret_cast<const char*>(&clock_offset_ns), 8));
    for (const auto& t : tasks)
        chunk('T', std::to_string(t.tid) + " " + std::to_string(t.pid) + " " + t.comm);
    chunk('P', probe_table(probes));
    for (const auto& f : formats)
        chunk('F', f);
}

void RecordingWriter::page(int cpu, const void* bytes, std::size_t len) {
    const auto c = static_cast<std::uint32_t>(cpu);
    chunk('D', std::string_view(reinterpret_cast<const char*>(&c), 4),
          std::string_view(static_cast<const char*>(bytes), len));
}

void RecordingWriter::lost(const Record& r) {
    std::string payload(32, '\0');
    const auto c = static_cast<std::uint32_t>(r.cpu);
    const auto probe = static_cast<std::int32_t>(r.probe); // kprobe misses: whose (-1: not known)
    std::memcpy(payload.data(), &c, 4);
    std::memcpy(payload.data() + 4, &r.ts, 8);
    std::memcpy(payload.data() + 12, &r.lost, 8);
    std::memcpy(payload.data() + 20, &r.until, 8);
    std::memcpy(payload.data() + 28, &probe, 4);
    chunk('L', payload);
}

void RecordingWriter::round(std::uint64_t mark) {
    chunk('R', std::string(reinterpret_cast<const char*>(&mark), 8));
}

void RecordingWriter::stack_copy(const StackCopy& s) {
    std::string p(4 + 4 + 8 + 48 + 8, '\0');
    const auto tid = static_cast<std::uint32_t>(s.tid);
    // Copies taken at exit: bit 16 of the event (older readers refuse them as a bad event).
    const auto ev = static_cast<std::int32_t>(s.ev | (s.at_exit ? 0x10000 : 0));
    std::memcpy(p.data(), &tid, 4);
    std::memcpy(p.data() + 4, &ev, 4);
    std::memcpy(p.data() + 8, &s.ts, 8);
    std::memcpy(p.data() + 16, s.args.data(), 48);
    std::memcpy(p.data() + 64, &s.sp, 8);
    chunk('U', p + s.bytes);
}

void RecordingWriter::stack_lost(std::uint64_t total) {
    chunk('V', std::string(reinterpret_cast<const char*>(&total), 8));
}

void RecordingWriter::flush() {
    if (f_ && std::fflush(f_) != 0)
        throw std::runtime_error("cannot write " + path_ + ": " + std::strerror(errno));
}

namespace {

constexpr std::size_t kMaxChunk = 64 << 20; // a sub-buffer is at most kMaxPage; metadata is small

bool own_data(char type) {
    return type == 'D' || type == 'L' || type == 'R' || type == 'U' || type == 'V' || type == 'N';
}

// Checks and files the chunk at file offset off: metadata and carried data
// into head, the file's own data into data (the same Recording when the file
// is read whole).
void parse_chunk(ChunkState& st, Recording& head, Recording& data, char type, std::string_view payload,
                 std::uint64_t off) {
    const auto fail = [&](const char* what) {
        throw std::runtime_error(std::string(what) + " (chunk '" + std::string(1, type) + "' at offset " +
                                 std::to_string(off) + ")");
    };
    const bool carry = type == 'B' || type == 'O' || type == 'X';
    const bool is_data = own_data(type) || carry;
    if (is_data && (!st.have_probes || head.formats.size() != head.probes.size()))
        fail("data before the probe table and formats");
    if (st.data && !is_data) fail("metadata after data");
    if (st.ended) fail("a chunk after the end of the file ('N')");
    if (carry && (st.own_data || (type == 'B' && head.continues) || (type != 'B' && !head.continues)))
        fail("carried data out of place");
    st.own_data = st.own_data || (is_data && !carry && type != 'N'); // U: after the carried pages
    switch (type) {
    case 'B':
    case 'N': {
        st.data = true;
        if (payload.size() != 8) fail("bad boundary");
        if (type == 'B') {
            head.continues = true;
            head.begin = get<std::uint64_t>(payload, 0);
        } else {
            st.ended = data.continued = true;
            data.end = get<std::uint64_t>(payload, 0);
        }
        break;
    }
    case 'O':
        if (payload.size() != 12) fail("bad call in progress");
        head.open.emplace_back(static_cast<int>(get<std::uint32_t>(payload, 0)),
                               get<std::uint64_t>(payload, 4));
        break;
    case 'X': {
        if (payload.size() < 4 || payload.size() - 4 > kMaxPage) fail("bad page size");
        const auto cpu = get<std::uint32_t>(payload, 0);
        if (cpu > 65535) fail("bad cpu number");
        head.carried.push_back(PageView{static_cast<int>(cpu), payload.substr(4)});
        break;
    }
    case 'H': head.header_page = std::string(payload); break;
    case 'K': head.kernel = std::string(payload); break;
    case 'S': head.self_tid = std::atoi(std::string(payload).c_str()); break;
    case 'Q': head.selected = true; break;
    case 'C':
        if (payload.size() != 8) fail("bad clock offset");
        head.clock_offset_ns = get<std::int64_t>(payload, 0);
        break;
    case 'T': {
        Recording::Task t{};
        std::istringstream ts{std::string(payload)};
        if (!(ts >> t.tid >> t.pid)) fail("bad task");
        ts.get();
        std::getline(ts, t.comm);
        head.tasks.push_back(std::move(t));
        break;
    }
    case 'P':
        if (st.have_probes) fail("a second probe table");
        head.probes = parse_probe_table(std::string(payload));
        st.have_probes = true;
        break;
    case 'F':
        if (!st.have_probes || head.formats.size() >= head.probes.size())
            fail("an event format without its probe");
        head.formats.emplace_back(payload);
        break;
    case 'D': {
        st.data = true;
        if (payload.size() < 4 || payload.size() - 4 > kMaxPage) fail("bad page size");
        const auto cpu = get<std::uint32_t>(payload, 0);
        if (cpu > 65535) fail("bad cpu number");
        data.pages.push_back(PageView{static_cast<int>(cpu), payload.substr(4)});
        break;
    }
    case 'R':
        st.data = true;
        if (payload.size() != 8) fail("bad round mark");
        data.rounds.push_back(Recording::Round{data.pages.size(), get<std::uint64_t>(payload, 0)});
        break;
    case 'U': {
        st.data = true;
        if (payload.size() < 72) fail("bad stack copy");
        StackCopy c;
        c.tid = static_cast<int>(get<std::uint32_t>(payload, 0));
        c.ev = get<std::int32_t>(payload, 4);
        c.at_exit = (c.ev & 0x10000) != 0;
        c.ev &= ~0x10000;
        if (c.ev < 0 || c.ev >= static_cast<int>(catalog().size())) fail("bad event in stack copy");
        c.ts = get<std::uint64_t>(payload, 8);
        std::memcpy(c.args.data(), payload.data() + 16, 48);
        c.sp = get<std::uint64_t>(payload, 64);
        c.bytes = std::string(payload.substr(72));
        data.stacks.push_back(std::move(c));
        data.stack_round.push_back(data.rounds.size());
        break;
    }
    case 'V':
        st.data = true;
        if (payload.size() != 8) fail("bad stack loss");
        data.stack_lossy.push_back(data.rounds.size());
        break;
    case 'L': {
        st.data = true;
        // 20: no end, 28: no probe (older recordings)
        if (payload.size() != 20 && payload.size() != 28 && payload.size() != 32) fail("bad lost record");
        Record l;
        l.kind = RecordKind::Lost;
        const auto cpu = get<std::uint32_t>(payload, 0); // 0xffffffff: no CPU (kprobe misses)
        if (cpu > 65535 && cpu != 0xffffffffu) fail("bad cpu number");
        l.cpu = cpu == 0xffffffffu ? -1 : static_cast<int>(cpu);
        l.ts = get<std::uint64_t>(payload, 4);
        l.lost = get<std::int64_t>(payload, 12);
        if (l.lost < 0) fail("negative lost count");
        if (payload.size() >= 28) l.until = get<std::uint64_t>(payload, 20);
        if (payload.size() == 32) {
            l.probe = get<std::int32_t>(payload, 28);
            if (l.probe < -1 || l.probe >= static_cast<std::int32_t>(head.probes.size()))
                fail("bad probe of a lost record");
        }
        data.losses.push_back(l);
        data.loss_round.push_back(data.rounds.size());
        break;
    }
    default: fail("unknown chunk type");
    }
}

// The chunks in b from offset from to its end (b starts at file offset base).
void parse_chunks(ChunkState& st, Recording& head, Recording& data, std::string_view b, std::size_t from,
                  std::uint64_t base) {
    for (std::size_t off = from; off < b.size();) {
        if (b.size() - off < 5)
            throw std::runtime_error("truncated chunk header at offset " + std::to_string(base + off));
        const auto len = get<std::uint32_t>(b, off + 1);
        if (len > b.size() - off - 5)
            throw std::runtime_error("chunk at offset " + std::to_string(base + off) +
                                     " runs past the end of the file");
        parse_chunk(st, head, data, b[off], b.substr(off + 5, len), base + off);
        off += 5 + len;
    }
}

void check_head(const ChunkState& st, const Recording& head) {
    if (!st.have_probes) throw std::runtime_error("no probe table");
    if (head.formats.size() != head.probes.size()) throw std::runtime_error("event formats missing");
    if (head.header_page.empty()) throw std::runtime_error("no header page");
}

} // namespace

Recording parse_recording(std::string bytes) {
    Recording r;
    r.storage = std::make_shared<const std::string>(std::move(bytes));
    const std::string_view b = *r.storage;
    if (b.substr(0, kMagic.size()) != kMagic) throw std::runtime_error("not an mqtrace recording");
    r.exact_losses = true;
    ChunkState st;
    parse_chunks(st, r, r, b, kMagic.size(), 0);
    check_head(st, r);
    return r;
}

Recording load_recording(const std::string& path) {
    std::error_code ec;
    // A fixture directory holding a recording file (scripts/vm/capture-fixtures).
    if (std::filesystem::is_directory(path, ec) && std::filesystem::exists(path + "/recording.mqt", ec))
        return load_recording(path + "/recording.mqt");
    if (!std::filesystem::is_directory(path, ec)) {
        try {
            return parse_recording(slurp(path));
        } catch (const std::runtime_error& e) {
            throw std::runtime_error(path + ": " + e.what());
        }
    }
    // The directory format of earlier versions (tests/fixtures): the pages' in-band loss counts.
    Recording r;
    r.header_page = slurp(path + "/header_page");
    r.probes = parse_probe_table(slurp(path + "/probes"));
    for (std::size_t i = 0; i < r.probes.size(); ++i)
        r.formats.push_back(slurp(path + "/formats/" + std::to_string(i)));
    for (const auto& p : r.probes)
        if (p.system.rfind("mqtrace_", 0) == 0) r.self_tid = std::atoi(p.system.c_str() + 8);
    r.storage = std::make_shared<const std::string>(slurp(path + "/pages.bin"));
    const std::string_view pages = *r.storage;
    for (std::size_t off = 0; off + 8 <= pages.size();) {
        std::uint32_t hdr[2];
        std::memcpy(hdr, pages.data() + off, sizeof hdr);
        off += 8;
        if (hdr[1] > pages.size() - off) throw std::runtime_error("truncated pages.bin in " + path);
        r.pages.push_back(PageView{static_cast<int>(hdr[0]), pages.substr(off, hdr[1])});
        off += hdr[1];
    }
    return r;
}

namespace {
constexpr std::size_t kBlock = 1 << 20; // read at once, and the buffer's first size
} // namespace

RecordingStream::RecordingStream(const std::string& path) : path_(path == "-" ? "standard input" : path) {
    std::error_code ec;
    std::string p = path; // a fixture directory holding a recording file (scripts/vm/capture-fixtures)
    if (path != "-" && std::filesystem::is_directory(p, ec) &&
        std::filesystem::exists(p + "/recording.mqt", ec))
        p += "/recording.mqt";
    if (path != "-" &&
        std::filesystem::is_directory(p, ec)) { // the directory format of earlier versions: small
        head_ = load_recording(p);
        whole_ = true;
        return;
    }
    try {
        // "-": standard input, as tcpdump -r - reads it (a copy of the descriptor, closed at the end).
        fd_ = path == "-" ? ::fcntl(0, F_DUPFD_CLOEXEC, 3) : ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd_ < 0) throw std::runtime_error("cannot read " + path_ + ": " + std::strerror(errno));
        read_head();
    } catch (const std::runtime_error& e) {
        if (fd_ >= 0) ::close(fd_);
        throw std::runtime_error(path_ + ": " + e.what());
    }
}

RecordingStream::~RecordingStream() {
    if (fd_ >= 0) ::close(fd_);
}

std::size_t RecordingStream::fill(std::size_t need) {
    while (end_ - beg_ < need && !eof_) {
        if (end_ == buf_.size()) {
            if (beg_ > 0) { // the bytes not parsed yet to the front
                std::memmove(buf_.data(), buf_.data() + beg_, end_ - beg_);
                pos_ += beg_;
                end_ -= beg_;
                beg_ = 0;
            }
            // Grown only when full of what was read: a hostile length asks for no memory.
            if (end_ == buf_.size()) buf_.resize(std::max(kBlock, 2 * buf_.size()));
        }
        const ssize_t got = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) throw std::runtime_error(std::string("cannot read: ") + std::strerror(errno));
        if (got == 0) eof_ = true;
        end_ += static_cast<std::size_t>(got);
    }
    return end_ - beg_;
}

namespace {
// The length of the chunk starting at b (5 bytes of header there).
std::size_t chunk_length(const char* b, std::uint64_t off) {
    std::uint32_t len;
    std::memcpy(&len, b + 1, 4);
    if (len > kMaxChunk)
        throw std::runtime_error("chunk at offset " + std::to_string(off) + " is too large (" +
                                 std::to_string(len) + " bytes)");
    return 5 + std::size_t{len};
}
} // namespace

void RecordingStream::read_head() {
    if (fill(kMagic.size()) < kMagic.size() || std::string_view(buf_.data(), kMagic.size()) != kMagic)
        throw std::runtime_error("not an mqtrace recording");
    // The metadata and carried data, up to the first chunk of the file's own
    // data: kept in one block, which head_ views.
    std::size_t n = kMagic.size();
    for (;;) {
        const std::size_t have = fill(n + 5);
        if (have == n) break;
        if (have < n + 5) throw std::runtime_error("truncated chunk header at offset " + std::to_string(n));
        if (own_data(buf_[beg_ + n])) break;
        const std::size_t len = chunk_length(buf_.data() + beg_ + n, n);
        if (fill(n + len) < n + len)
            throw std::runtime_error("chunk at offset " + std::to_string(n) +
                                     " runs past the end of the file");
        n += len;
    }
    const auto meta = std::make_shared<const std::string>(buf_.data() + beg_, n);
    head_.storage = meta;
    head_.exact_losses = true;
    parse_chunks(st_, head_, head_, *meta, kMagic.size(), 0);
    check_head(st_, head_);
    beg_ += n;
}

bool RecordingStream::next(Recording& part) {
    part.storage.reset();
    part.pages.clear();
    part.losses.clear();
    part.loss_round.clear();
    part.rounds.clear();
    part.stacks.clear();
    part.stack_round.clear();
    part.stack_lossy.clear();
    part.continued = false;
    part.end = 0;
    if (done_) return false;
    if (whole_) {
        done_ = true;
        part.storage = head_.storage;
        part.pages = head_.pages;
        part.losses = head_.losses;
        part.loss_round = head_.loss_round;
        part.rounds = head_.rounds;
        part.stacks = head_.stacks;
        part.stack_round = head_.stack_round;
        part.stack_lossy = head_.stack_lossy;
        part.continued = head_.continued;
        part.end = head_.end;
        return true;
    }
    try {
        std::size_t n = 0; // the part's chunks: up to the next round's end
        for (;;) {
            const std::size_t have = fill(n + 5);
            if (have == n) break;
            const std::uint64_t off = pos_ + beg_ + n;
            if (have < n + 5)
                throw std::runtime_error("truncated chunk header at offset " + std::to_string(off));
            const char type = buf_[beg_ + n];
            const std::size_t len = chunk_length(buf_.data() + beg_ + n, off);
            if (fill(n + len) < n + len)
                throw std::runtime_error("chunk at offset " + std::to_string(off) +
                                         " runs past the end of the file");
            n += len;
            if (type == 'R') break;
        }
        if (n == 0) {
            done_ = true;
            return false;
        }
        parse_chunks(st_, head_, part, std::string_view(buf_.data() + beg_, n), 0, pos_ + beg_);
        beg_ += n;
        return true;
    } catch (const std::runtime_error& e) {
        throw std::runtime_error(path_ + ": " + e.what());
    }
}

} // namespace mqtrace
