// Saving and loading recordings. See include/mqtrace/recording.hpp.
#include "mqtrace/recording.hpp"

#include "mqtrace/catalog.hpp"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace mqtrace {
namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
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

void save_recording_meta(const std::string& dir, const std::string& header_page,
                         const std::vector<Probe>& probes, const std::vector<std::string>& formats) {
    std::filesystem::create_directories(dir + "/formats");
    std::ofstream(dir + "/header_page", std::ios::binary) << header_page;
    std::ofstream t(dir + "/probes");
    for (std::size_t i = 0; i < probes.size(); ++i) {
        const Probe& p = probes[i];
        t << "probe " << kind_name(p.kind) << ' ' << role_name(p.role) << ' '
          << (p.ev >= 0 ? std::string(catalog()[p.ev].name) : "-") << ' ' << p.system << ' ' << p.event
          << '\n';
        for (const auto& f : p.fields)
            t << "field " << (f.name.empty() ? "-" : f.name) << ' ' << f.key << ' ' << source_name(f.src)
              << ' ' << f.pos << ' ' << f.bias << '\n';
        std::ofstream(dir + "/formats/" + std::to_string(i), std::ios::binary) << formats.at(i);
    }
    std::ofstream(dir + "/pages.bin", std::ios::binary | std::ios::trunc);
}

void append_recording_pages(const std::string& dir, const std::vector<RawPage>& pages) {
    std::ofstream out(dir + "/pages.bin", std::ios::binary | std::ios::app);
    for (const auto& p : pages) {
        const std::uint32_t hdr[2] = {static_cast<std::uint32_t>(p.cpu),
                                      static_cast<std::uint32_t>(p.bytes.size())};
        out.write(reinterpret_cast<const char*>(hdr), sizeof hdr);
        out.write(p.bytes.data(), static_cast<std::streamsize>(p.bytes.size()));
    }
}

Recording load_recording(const std::string& dir) {
    static const std::pair<const char*, ProbeKind> kinds[] = {{"kprobe", ProbeKind::Kprobe},
                                                              {"kretprobe", ProbeKind::Kretprobe},
                                                              {"uprobe", ProbeKind::Uprobe},
                                                              {"tracepoint", ProbeKind::Tracepoint}};
    static const std::pair<const char*, Role> roles[] = {
        {"entry", Role::Entry},      {"return", Role::Return},          {"wrapper", Role::Wrapper},
        {"task_new", Role::TaskNew}, {"task_rename", Role::TaskRename}, {"task_exit", Role::TaskExit},
        {"inner", Role::Inner}};
    static const std::pair<const char*, Source> sources[] = {{"register", Source::Register},
                                                             {"kernel-copy", Source::KernelCopy},
                                                             {"user-at-entry", Source::UserAtEntry},
                                                             {"user-late", Source::UserLate}};
    Recording r;
    r.header_page = slurp(dir + "/header_page");
    std::istringstream t(slurp(dir + "/probes"));
    for (std::string line; std::getline(t, line);) {
        std::istringstream ls(line);
        std::string what;
        ls >> what;
        if (what == "probe") {
            std::string kind, role, ev, sys, event;
            ls >> kind >> role >> ev >> sys >> event;
            const EventSpec* spec = find_event(ev);
            r.probes.push_back(Probe{parse_enum(kind, kinds),
                                     sys,
                                     event,
                                     "",
                                     {},
                                     parse_enum(role, roles),
                                     spec ? event_index(*spec) : -1});
        } else if (what == "field" && !r.probes.empty()) {
            Field f;
            std::string src;
            ls >> f.name >> f.key >> src >> f.pos >> f.bias;
            if (f.name == "-") f.name.clear();
            f.src = parse_enum(src, sources);
            r.probes.back().fields.push_back(std::move(f));
        }
    }
    for (std::size_t i = 0; i < r.probes.size(); ++i)
        r.formats.push_back(slurp(dir + "/formats/" + std::to_string(i)));
    const std::string pages = slurp(dir + "/pages.bin");
    for (std::size_t off = 0; off + 8 <= pages.size();) {
        std::uint32_t hdr[2];
        std::memcpy(hdr, pages.data() + off, sizeof hdr);
        off += 8;
        if (off + hdr[1] > pages.size()) throw std::runtime_error("truncated pages.bin in " + dir);
        r.pages.push_back(RawPage{static_cast<int>(hdr[0]), pages.substr(off, hdr[1])});
        off += hdr[1];
    }
    return r;
}

} // namespace mqtrace
