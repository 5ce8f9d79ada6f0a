/* LD_PRELOAD shim for Integration.NoHeapAllocationPerCallWhileTracing: counts
 * the process's malloc, calloc and realloc calls and writes the counts to
 * standard error when it exits ("count_malloc: malloc N calloc N realloc N").
 * (A binary with its own allocator, as under ASan, is not counted: the test
 * asserts that something was.) */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

extern void* __libc_malloc(size_t);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);

static unsigned long n_malloc, n_calloc, n_realloc;

void* malloc(size_t n) {
    __atomic_fetch_add(&n_malloc, 1, __ATOMIC_RELAXED);
    return __libc_malloc(n);
}

void* calloc(size_t k, size_t n) {
    __atomic_fetch_add(&n_calloc, 1, __ATOMIC_RELAXED);
    return __libc_calloc(k, n);
}

void* realloc(void* p, size_t n) {
    __atomic_fetch_add(&n_realloc, 1, __ATOMIC_RELAXED);
    return __libc_realloc(p, n);
}

__attribute__((destructor)) static void report(void) {
    char line[160];
    const int k = snprintf(line, sizeof line, "count_malloc: malloc %lu calloc %lu realloc %lu\n", n_malloc,
                           n_calloc, n_realloc);
    if (k > 0) (void)!write(2, line, (size_t)k);
}
