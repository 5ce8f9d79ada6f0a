// ELF symbol lookup and libc discovery. See include/mqtrace/elf.hpp.
#include "mqtrace/elf.hpp"

#include "mqtrace/catalog.hpp"

#include <elf.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

namespace mqtrace {
namespace {

bool read_at(std::ifstream& f, std::uint64_t off, void* buf, std::size_t len) {
    f.seekg(static_cast<std::streamoff>(off));
    f.read(static_cast<char*>(buf), static_cast<std::streamsize>(len));
    return static_cast<std::size_t>(f.gcount()) == len;
}

bool is_libc(const std::string& path) {
    const auto base = path.substr(path.rfind('/') + 1);
    return base == "libc.so.6" || (base.rfind("libc-2.", 0) == 0 && base.ends_with(".so"));
}

} // namespace

std::vector<std::uint64_t> elf_symbol_offsets(const std::string& path,
                                              const std::vector<std::string_view>& symbols) {
    std::vector<std::uint64_t> out(symbols.size(), 0);
    std::ifstream f(path, std::ios::binary);
    Elf64_Ehdr eh{};
    if (!f || !read_at(f, 0, &eh, sizeof eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof(Elf64_Shdr))
        return out;
    std::vector<Elf64_Shdr> sh(eh.e_shnum);
    if (sh.empty() || !read_at(f, eh.e_shoff, sh.data(), sh.size() * sizeof(Elf64_Shdr))) return out;
    std::vector<std::uint64_t> vaddr(symbols.size(), 0);
    for (const Elf64_Word want : {Elf64_Word{SHT_DYNSYM}, Elf64_Word{SHT_SYMTAB}}) {
        for (const auto& s : sh) {
            if (s.sh_type != want || s.sh_link >= sh.size() || s.sh_entsize != sizeof(Elf64_Sym)) continue;
            const auto& strs = sh[s.sh_link];
            std::string names(strs.sh_size, '\0');
            if (!read_at(f, strs.sh_offset, names.data(), names.size())) continue;
            std::vector<Elf64_Sym> syms(s.sh_size / sizeof(Elf64_Sym));
            if (!read_at(f, s.sh_offset, syms.data(), syms.size() * sizeof(Elf64_Sym))) continue;
            for (const auto& sym : syms) {
                if (ELF64_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_shndx == SHN_UNDEF ||
                    sym.st_value == 0 || sym.st_name >= names.size())
                    continue;
                const std::string_view name(names.c_str() + sym.st_name);
                for (std::size_t i = 0; i < symbols.size(); ++i)
                    if (!vaddr[i] && !symbols[i].empty() && name == symbols[i]) vaddr[i] = sym.st_value;
            }
        }
    }
    // Virtual address -> file offset through the loadable segment holding it.
    for (int i = 0; i < eh.e_phnum; ++i) {
        Elf64_Phdr ph{};
        if (!read_at(f, eh.e_phoff + static_cast<std::uint64_t>(i) * sizeof ph, &ph, sizeof ph)) break;
        if (ph.p_type != PT_LOAD) continue;
        for (std::size_t k = 0; k < symbols.size(); ++k)
            if (vaddr[k] >= ph.p_vaddr && vaddr[k] < ph.p_vaddr + ph.p_filesz && vaddr[k])
                out[k] = vaddr[k] - ph.p_vaddr + ph.p_offset;
    }
    return out;
}

std::uint64_t elf_symbol_offset(const std::string& path, std::string_view symbol) {
    return elf_symbol_offsets(path, {symbol}).front();
}

std::vector<LibcTarget> find_libcs() {
    std::vector<LibcTarget> out;
    std::set<std::pair<dev_t, ino_t>> seen;
    auto consider = [&](const std::string& path) {
        struct stat st {};
        if (stat(path.c_str(), &st) != 0 || !seen.insert({st.st_dev, st.st_ino}).second) return;
        std::vector<std::string_view> symbols;
        for (const auto& ev : catalog())
            symbols.push_back(ev.libc_symbol);
        LibcTarget t{path, elf_symbol_offsets(path, symbols)};
        if (std::any_of(t.offsets.begin(), t.offsets.end(), [](std::uint64_t o) { return o != 0; }))
            out.push_back(std::move(t));
    };
    auto scan = [&](const std::string& pid, bool own) {
        std::ifstream maps("/proc/" + pid + "/maps");
        for (std::string line; std::getline(maps, line);) {
            const auto slash = line.find('/');
            if (slash == std::string::npos) continue;
            const std::string path = line.substr(slash);
            if (!is_libc(path)) continue;
            consider(own ? path : "/proc/" + pid + "/root" + path);
        }
    };
    scan("self", true);
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string n = e.path().filename().string();
        if (n.find_first_not_of("0123456789") == std::string::npos) scan(n, false);
    }
    return out;
}

} // namespace mqtrace
