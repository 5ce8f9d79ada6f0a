/* LD_PRELOAD shim for the peer benchmark (scripts/bench): on kernels whose
 * function-tracer files answer EPERM (these machines), trace-cmd 3.1.6 gives
 * up ("Can't enable ftrace") although it only needs events. Opening those
 * files fails with ENOENT instead, as on a kernel without the function tracer. */
#define _GNU_SOURCE
#undef _FILE_OFFSET_BITS /* open and open64 are both defined here */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int hidden(const char* path) {
    static const char* const names[] = {
        "set_ftrace_filter",      "set_ftrace_notrace",       "set_ftrace_pid",
        "set_ftrace_notrace_pid", "ftrace_enabled",           "set_graph_function",
        "set_graph_notrace",      "function_profile_enabled", NULL};
    const char* base = path ? strrchr(path, '/') : NULL;
    base = base ? base + 1 : path;
    for (int i = 0; base && names[i]; ++i)
        if (strcmp(base, names[i]) == 0) return 1;
    return 0;
}

/* Fail as if the file did not exist when it is one of those; else call the
 * real function of that name (type: its function pointer type). */
#define HIDE(path, fail)                                                                                     \
    do {                                                                                                     \
        if (hidden(path)) {                                                                                  \
            errno = ENOENT;                                                                                  \
            return fail;                                                                                     \
        }                                                                                                    \
    } while (0)
#define REAL(type, name) (__extension__(type) dlsym(RTLD_NEXT, name))

/* open's third argument is there only with O_CREAT or O_TMPFILE. */
#define MODE_ARG                                                                                             \
    mode_t mode = 0;                                                                                         \
    if (flags & (O_CREAT | O_TMPFILE)) {                                                                     \
        va_list ap;                                                                                          \
        va_start(ap, flags);                                                                                 \
        mode = va_arg(ap, mode_t);                                                                           \
        va_end(ap);                                                                                          \
    }

typedef int (*open_fn)(const char*, int, ...);
typedef int (*openat_fn)(int, const char*, int, ...);
typedef FILE* (*fopen_fn)(const char*, const char*);
typedef int (*access_fn)(const char*, int);
struct stat;
typedef int (*stat_fn)(const char*, struct stat*);

int open(const char* path, int flags, ...) {
    MODE_ARG
    HIDE(path, -1);
    return REAL(open_fn, "open")(path, flags, mode);
}

int open64(const char* path, int flags, ...) {
    MODE_ARG
    HIDE(path, -1);
    return REAL(open_fn, "open64")(path, flags, mode);
}

int openat(int dir, const char* path, int flags, ...) {
    MODE_ARG
    HIDE(path, -1);
    return REAL(openat_fn, "openat")(dir, path, flags, mode);
}

FILE* fopen(const char* path, const char* m) {
    HIDE(path, NULL);
    return REAL(fopen_fn, "fopen")(path, m);
}

int access(const char* path, int m) {
    HIDE(path, -1);
    return REAL(access_fn, "access")(path, m);
}

int stat(const char* path, struct stat* st) {
    HIDE(path, -1);
    return REAL(stat_fn, "stat")(path, st);
}

int stat64(const char* path, struct stat* st) {
    HIDE(path, -1);
    return REAL(stat_fn, "stat64")(path, st);
}
