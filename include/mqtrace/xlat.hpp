// Symbolic names for flags and constants, as strace prints them. Tables are data
// (see src/xlat.cpp); the render functions are pure.
#pragma once

#include "mqtrace/catalog.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace mqtrace {

// Render one scalar value by its decode kind ("O_RDWR|O_CREAT", "0600", "IPC_PRIVATE").
std::string render_scalar(Decode d, std::int64_t v);
// "ENOENT" (or "E123" for unknown numbers) for a positive errno.
std::string errno_name(int err);
// The same name without building a string; empty for an unknown number.
std::string_view known_errno_name(int err);

} // namespace mqtrace
