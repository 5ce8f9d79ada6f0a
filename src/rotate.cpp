// Rotating files. See include/mqtrace/rotate.hpp.
#include "mqtrace/rotate.hpp"

#include <sys/stat.h>

#include <charconv>
#include <vector>

namespace mqtrace {

std::string parse_rotate_size(const std::string& s, std::uint64_t& bytes) {
    const std::string error = "--rotate-size takes a positive whole number of millions of bytes, or of KiB, "
                              "MiB or GiB with the suffix k, M or G (as tcpdump's -C), not '" +
                              s + "'";
    std::uint64_t unit = 1000000;
    std::size_t digits = s.size();
    if (!s.empty()) switch (s.back()) {
        case 'k':
        case 'K': unit = 1024, --digits; break;
        case 'm':
        case 'M': unit = 1024 * 1024, --digits; break;
        case 'g':
        case 'G': unit = 1024 * 1024 * 1024, --digits; break;
        default: break;
        }
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + digits, v);
    if (digits == 0 || ec != std::errc() || end != s.data() + digits || v == 0) return error;
    if (v > (std::uint64_t{1} << 62) / unit) return "--rotate-size: '" + s + "' is too large";
    bytes = v * unit;
    return "";
}

std::string FileNames::base(std::time_t now) const {
    if (o_.seconds == 0 || pattern_.find('%') == std::string::npos) return pattern_;
    std::tm tm{};
    if (o_.utc)
        gmtime_r(&now, &tm);
    else
        localtime_r(&now, &tm);
    std::vector<char> buf(pattern_.size() * 8 + 256);
    const std::size_t n = std::strftime(buf.data(), buf.size(), pattern_.c_str(), &tm);
    return n > 0 ? std::string(buf.data(), n) : pattern_; // nothing or too long: the name as given
}

std::string FileNames::next(std::time_t now) {
    const std::string b = base(now);
    if (opened_ == 0 || b != last_base_) {
        last_base_ = b;
        n_ = 0;
    } else {
        ++n_;
    }
    std::string suffix;
    if (o_.count > 0) {
        const std::uint64_t i = n_ % o_.count;
        int width = 0;
        for (std::uint64_t x = o_.count - 1; x > 0; x /= 10)
            ++width;
        if (width > 0) {
            suffix = std::to_string(i);
            suffix.insert(0, static_cast<std::size_t>(width) - suffix.size(), '0');
        }
    } else if (n_ > 0) {
        suffix = std::to_string(n_);
    }
    current_ = b + suffix;
    if (opened_++ == 0) first_ = current_;
    return current_;
}

bool names_file(const std::string& path, int fd) {
    struct stat a {
    }, b{};
    return fd >= 0 && fstat(fd, &a) == 0 && stat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

} // namespace mqtrace
