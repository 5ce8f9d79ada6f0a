/* See tracefs_shim.h. */
#include "tracefs_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <tracefs.h>
#include <unistd.h>

static int neg_errno(int ret) { return ret < 0 ? (errno ? -errno : -EIO) : ret; }

const char* mqt_tracing_dir(void) { return tracefs_tracing_dir(); }

struct mqt_instance* mqt_instance_create(const char* name, int* is_new) {
    struct tracefs_instance* i = tracefs_instance_create(name);
    if (i && is_new) *is_new = tracefs_instance_is_new(i);
    return (struct mqt_instance*)i;
}

struct mqt_instance* mqt_instance_open(const char* name) {
    if (!tracefs_instance_exists(name)) return NULL;
    return (struct mqt_instance*)tracefs_instance_alloc(NULL, name);
}

int mqt_instance_destroy(struct mqt_instance* inst) {
    errno = 0;
    return neg_errno(tracefs_instance_destroy((struct tracefs_instance*)inst));
}

void mqt_instance_free(struct mqt_instance* inst) { tracefs_instance_free((struct tracefs_instance*)inst); }

int mqt_file_write(struct mqt_instance* inst, const char* file, const char* str) {
    errno = 0;
    return neg_errno(tracefs_instance_file_write((struct tracefs_instance*)inst, file, str));
}

int mqt_file_append(struct mqt_instance* inst, const char* file, const char* str) {
    errno = 0;
    return neg_errno(tracefs_instance_file_append((struct tracefs_instance*)inst, file, str));
}

char* mqt_file_read(struct mqt_instance* inst, const char* file, int* size) {
    return tracefs_instance_file_read((struct tracefs_instance*)inst, file, size);
}

char* mqt_error_last(void) { return tracefs_error_last(NULL); }

struct mqt_cpu {
    struct tracefs_cpu* tcpu;
    int fd;
};

struct mqt_cpu* mqt_cpu_open(struct mqt_instance* inst, int cpu, int subbuf_size) {
    char file[64];
    struct mqt_cpu* c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    snprintf(file, sizeof(file), "per_cpu/cpu%d/trace_pipe_raw", cpu);
    c->fd =
        tracefs_instance_file_open((struct tracefs_instance*)inst, file, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (c->fd < 0) {
        free(c);
        return NULL;
    }
    c->tcpu = tracefs_cpu_alloc_fd(c->fd, subbuf_size, true);
    if (!c->tcpu) {
        close(c->fd);
        free(c);
        return NULL;
    }
    return c;
}

int mqt_cpu_fd(struct mqt_cpu* c) { return c->fd; }

int mqt_cpu_read_size(struct mqt_cpu* c) { return tracefs_cpu_read_size(c->tcpu); }

int mqt_cpu_read(struct mqt_cpu* c, void* buf) {
    errno = 0;
    return neg_errno(tracefs_cpu_read(c->tcpu, buf, true));
}

void mqt_cpu_close(struct mqt_cpu* c) {
    if (!c) return;
    tracefs_cpu_free_fd(c->tcpu);
    close(c->fd);
    free(c);
}
