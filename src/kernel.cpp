// Kernel facts from tracefs, kallsyms and uname. See include/mqtrace/kernel.hpp.
#include "mqtrace/kernel.hpp"

#include "mqtrace/catalog.hpp"

#include <sys/utsname.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace mqtrace {
namespace {

std::string slurp(const std::string& path, bool must) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        if (must) throw std::runtime_error("cannot read " + path);
        return {};
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool has_line(const std::string& text, const std::string& line) {
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
        if (l == line) return true;
    return false;
}

// Only the symbols the catalog can probe are kept: kallsyms has ~100k lines.
bool interesting_symbol(std::string_view name) {
    for (const auto& ev : catalog())
        for (const auto& pt : ev.kprobe_points) {
            if (pt.conv == Conv::Direct && name == pt.symbol) return true;
            if (pt.conv == Conv::PtRegs) {
                for (std::string_view pre : {"__x64_sys_", "__arm64_sys_"})
                    if (name.size() == pre.size() + pt.symbol.size() && name.starts_with(pre) &&
                        name.ends_with(pt.symbol))
                        return true;
            }
        }
    return false;
}

} // namespace

std::string KernelFacts::ptregs_prefix() const {
    // pt_regs syscall wrappers: x86_64 since 4.17, arm64 since 4.19. Detected from
    // the symbols themselves, not the version.
    const char* prefix = arch == Arch::X86_64 ? "__x64_sys_" : arch == Arch::Arm64 ? "__arm64_sys_" : nullptr;
    if (!prefix) return "";
    auto it = symbols.lower_bound(prefix);
    return it != symbols.end() && it->rfind(prefix, 0) == 0 ? prefix : "";
}

const char* KernelFacts::arch_name() const {
    switch (arch) {
    case Arch::X86_64: return "x86_64";
    case Arch::Arm64: return "arm64";
    default: return "other";
    }
}

KernelFacts parse_facts(const KernelProfile& p) {
    KernelFacts f;
    f.release = p.release;
    std::sscanf(p.release.c_str(), "%d.%d", &f.major, &f.minor);
    if (p.machine == "x86_64")
        f.arch = Arch::X86_64;
    else if (p.machine == "aarch64" || p.machine == "arm64")
        f.arch = Arch::Arm64;
    f.kprobe_events = has_line(p.files, "kprobe_events");
    f.uprobe_events = has_line(p.files, "uprobe_events");
    f.dynamic_events = has_line(p.files, "dynamic_events");
    f.buffer_percent = has_line(p.files, "buffer_percent");
    f.instances = has_line(p.files, "instances");
    // Fetch-argument features, as perf and the ftrace selftests detect them.
    f.ustring = p.readme.find("ustring") != std::string::npos;
    f.user_deref = p.readme.find("u]<offset>") != std::string::npos;
    f.arg_n = p.readme.find("$arg<N>") != std::string::npos;
    f.ret_arg_n = p.readme.find("return probes support: $retval, $arg<N>") != std::string::npos;
    f.maxactive = p.readme.find("r[maxactive]") != std::string::npos;
    std::istringstream syms(p.symbols);
    for (std::string l; std::getline(syms, l);)
        if (!l.empty()) f.symbols.insert(l);
    std::istringstream evs(p.events);
    for (std::string l; std::getline(evs, l);)
        if (!l.empty()) f.events.insert(l);
    return f;
}

KernelProfile load_profile_dir(const std::string& dir) {
    KernelProfile p;
    auto one_line = [](std::string s) {
        while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
            s.pop_back();
        return s;
    };
    p.release = one_line(slurp(dir + "/release", true));
    p.machine = one_line(slurp(dir + "/machine", true));
    p.readme = slurp(dir + "/README", true);
    p.files = slurp(dir + "/files", true);
    p.symbols = slurp(dir + "/symbols", true);
    p.events = slurp(dir + "/events", true);
    return p;
}

void save_profile_dir(const KernelProfile& p, const std::string& dir) {
    std::filesystem::create_directories(dir);
    auto put = [&](const char* name, const std::string& text) {
        std::ofstream out(dir + "/" + name, std::ios::binary);
        out << text;
        if (!out) throw std::runtime_error("cannot write " + dir + "/" + name);
    };
    put("release", p.release + "\n");
    put("machine", p.machine + "\n");
    put("README", p.readme);
    put("files", p.files);
    put("symbols", p.symbols);
    put("events", p.events);
}

KernelProfile read_live_profile(const std::string& tracefs, bool symbols) {
    KernelProfile p;
    utsname u{};
    uname(&u);
    p.release = u.release;
    p.machine = u.machine;
    p.readme = slurp(tracefs + "/README", true);
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(tracefs, ec))
        p.files += e.path().filename().string() + "\n";
    // kallsyms: "ffffffff81234560 t do_mq_open" (module symbols carry "\t[mod]").
    // Only kprobe plans use the symbols: without kprobe events, skip it.
    if (symbols || has_line(p.files, "kprobe_events")) {
        const std::string all = slurp("/proc/kallsyms", true);
        std::set<std::string> seen;
        for (std::size_t at = 0; at < all.size();) {
            std::size_t end = all.find('\n', at);
            if (end == std::string::npos) end = all.size();
            const std::string_view line(all.data() + at, end - at);
            at = end + 1;
            // address, space, type, space, name (then a tab and the module, if any)
            const std::size_t sp = line.find(' ');
            if (sp == std::string_view::npos || sp + 3 >= line.size() || line[sp + 2] != ' ') continue;
            if (line[sp + 1] != 't' && line[sp + 1] != 'T') continue;
            std::string_view name = line.substr(sp + 3);
            name = name.substr(0, name.find_first_of("\t "));
            // Every probe point names "mq" or "msg", or is a lookup_one* (tested in unit_catalog_test.cpp).
            if (name.find("mq") == std::string_view::npos && name.find("msg") == std::string_view::npos &&
                !name.starts_with("lookup_one"))
                continue;
            if (interesting_symbol(name) && seen.emplace(name).second) p.symbols += std::string(name) + "\n";
        }
    }
    for (const auto& ev : catalog()) {
        for (const char* dir : {"sys_enter_", "sys_exit_"}) {
            std::string e = std::string("syscalls/") + dir + std::string(ev.name);
            if (std::filesystem::exists(tracefs + "/events/" + e)) p.events += e + "\n";
        }
    }
    for (const char* e :
         {"task/task_newtask", "task/task_rename", "sched/sched_process_exit", "syscalls/sys_enter_setuid",
          "syscalls/sys_exit_setuid", "syscalls/sys_enter_setreuid", "syscalls/sys_exit_setreuid",
          "syscalls/sys_enter_setresuid", "syscalls/sys_exit_setresuid"})
        if (std::filesystem::exists(tracefs + "/events/" + std::string(e))) p.events += std::string(e) + "\n";
    return p;
}

} // namespace mqtrace
