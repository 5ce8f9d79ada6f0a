/* LD_PRELOAD shim for the peer benchmark (scripts/bench): on kernels whose
 * function-tracer files answer EPERM (these machines), trace-cmd 3.1.6 gives
 * up ("Can't enable ftrace") although it only needs events. Opening those
 * files fails with ENOENT instead, as on a kernel without the function tracer. */
#define _GNU_SOURCE
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

#define MODE_ARG                                                                                             \
    mode_t mode = 0;                                                                                         \
    if (flags & (O_CREAT | O_TMPFILE)) {                                                                     \
        va_list ap;                                                                                          \
        va_start(ap, flags);                                                                                 \
        mode = va_arg(ap, mode_t);                                                                           \
        va_end(ap);                                                                                          \
    }

int open(const char* path, int flags, ...) {
    MODE_ARG
    if (hidden(path)) {
        errno = ENOENT;
        return -1;
    }
    int (*real)(const char*, int, ...) = (int (*)(const char*, int, ...))dlsym(RTLD_NEXT, "open");
    return real(path, flags, mode);
}

int open64(const char* path, int flags, ...) {
    MODE_ARG
    if (hidden(path)) {
        errno = ENOENT;
        return -1;
    }
    int (*real)(const char*, int, ...) = (int (*)(const char*, int, ...))dlsym(RTLD_NEXT, "open64");
    return real(path, flags, mode);
}

int openat(int dir, const char* path, int flags, ...) {
    MODE_ARG
    if (hidden(path)) {
        errno = ENOENT;
        return -1;
    }
    int (*real)(int, const char*, int, ...) = (int (*)(int, const char*, int, ...))dlsym(RTLD_NEXT, "openat");
    return real(dir, path, flags, mode);
}

FILE* fopen(const char* path, const char* m) {
    if (hidden(path)) {
        errno = ENOENT;
        return NULL;
    }
    FILE* (*real)(const char*, const char*) =
        (FILE * (*)(const char*, const char*)) dlsym(RTLD_NEXT, "fopen");
    return real(path, m);
}

int access(const char* path, int m) {
    if (hidden(path)) {
        errno = ENOENT;
        return -1;
    }
    int (*real)(const char*, int) = (int (*)(const char*, int))dlsym(RTLD_NEXT, "access");
    return real(path, m);
}

struct stat;
int stat(const char* path, struct stat* st) {
    if (hidden(path)) {
        errno = ENOENT;
        return -1;
    }
    int (*real)(const char*, struct stat*) = (int (*)(const char*, struct stat*))dlsym(RTLD_NEXT, "stat");
    return real(path, st);
}

int stat64(const char* path, struct stat* st) {
    if (hidden(path)) {
        errno = ENOENT;
        return -1;
    }
    int (*real)(const char*, struct stat*) = (int (*)(const char*, struct stat*))dlsym(RTLD_NEXT, "stat64");
    return real(path, st);
}
