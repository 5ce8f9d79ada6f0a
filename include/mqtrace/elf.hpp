// ELF symbol lookup for uprobes: where a libc wrapper (mq_open, msgsnd...) lives in the file.
#pragma once

#include "mqtrace/plan.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mqtrace {

// File offset of a defined function symbol in an ELF64 file's .dynsym (then
// .symtab), or 0 if absent or the file is not a readable ELF64.
std::uint64_t elf_symbol_offset(const std::string& path, std::string_view symbol);
// The same for several symbols, in one pass over the file (0 for "" and absent ones).
std::vector<std::uint64_t> elf_symbol_offsets(const std::string& path,
                                              const std::vector<std::string_view>& symbols);

// The C libraries processes map now (this process's first), one per file
// (dev:inode), with the offsets of the catalog's libc wrappers. Paths of libraries
// seen only in other mount namespaces go through /proc/PID/root.
std::vector<LibcTarget> find_libcs();

} // namespace mqtrace
