// SmallVec: a vector of at most N elements stored inline. Records and calls
// hold their fields and arguments in one, so the per-event path allocates
// nothing for them. Growing past N throws std::length_error: capacities are
// checked where probes and the catalog are built (see kMaxFields, kMaxArgs).
#pragma once

#include <cstddef>
#include <initializer_list>
#include <new>
#include <stdexcept>
#include <utility>
#include <vector>

namespace mqtrace {

template <typename T, std::size_t N> class SmallVec {
public:
    SmallVec() = default;
    SmallVec(std::initializer_list<T> l) { append(l.begin(), l.end()); }
    SmallVec(const SmallVec& o) { append(o.begin(), o.end()); }
    SmallVec(SmallVec&& o) noexcept { take(o); }
    ~SmallVec() { clear(); }
    SmallVec& operator=(const SmallVec& o) {
        if (this != &o) {
            clear();
            append(o.begin(), o.end());
        }
        return *this;
    }
    SmallVec& operator=(SmallVec&& o) noexcept {
        if (this != &o) {
            clear();
            take(o);
        }
        return *this;
    }
    SmallVec& operator=(std::initializer_list<T> l) {
        clear();
        append(l.begin(), l.end());
        return *this;
    }
    SmallVec& operator=(const std::vector<T>& v) {
        clear();
        append(v.begin(), v.end());
        return *this;
    }

    std::size_t size() const { return n_; }
    bool empty() const { return n_ == 0; }
    static constexpr std::size_t capacity() { return N; }
    T* data() { return std::launder(reinterpret_cast<T*>(buf_)); }
    const T* data() const { return std::launder(reinterpret_cast<const T*>(buf_)); }
    T& operator[](std::size_t i) { return data()[i]; }
    const T& operator[](std::size_t i) const { return data()[i]; }
    T& at(std::size_t i) {
        if (i >= n_) throw std::out_of_range("SmallVec::at");
        return data()[i];
    }
    const T& at(std::size_t i) const {
        if (i >= n_) throw std::out_of_range("SmallVec::at");
        return data()[i];
    }
    T* begin() { return data(); }
    T* end() { return data() + n_; }
    const T* begin() const { return data(); }
    const T* end() const { return data() + n_; }
    T& back() { return data()[n_ - 1]; }
    friend bool operator==(const SmallVec& a, const SmallVec& b) {
        if (a.n_ != b.n_) return false;
        for (std::size_t i = 0; i < a.n_; ++i)
            if (!(a[i] == b[i])) return false;
        return true;
    }

    // New elements are value-initialised, as std::vector does.
    void resize(std::size_t n) {
        if (n > N) throw std::length_error("SmallVec: more than its capacity");
        while (n_ > n)
            data()[--n_].~T();
        for (; n_ < n; ++n_)
            new (buf_ + n_ * sizeof(T)) T{};
    }
    void clear() { resize(0); }
    void push_back(T v) {
        if (n_ == N) throw std::length_error("SmallVec: more than its capacity");
        new (buf_ + n_ * sizeof(T)) T(std::move(v));
        ++n_;
    }

private:
    template <typename It> void append(It b, It e) {
        for (; b != e; ++b)
            push_back(*b);
    }
    void take(SmallVec& o) noexcept {
        for (std::size_t i = 0; i < o.n_; ++i)
            new (buf_ + i * sizeof(T)) T(std::move(o.data()[i]));
        n_ = o.n_;
        o.clear();
    }
    alignas(T) unsigned char buf_[N * sizeof(T)];
    std::size_t n_ = 0;
};

} // namespace mqtrace
