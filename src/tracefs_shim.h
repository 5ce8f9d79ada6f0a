/* A small C interface over libtracefs. tracefs.h does not compile as C++ with
 * g++ 12 (an int passed as enum tracefs_hist_command in an inline function), so
 * the library is only included from tracefs_shim.c. Return values: >= 0 on
 * success, -errno on failure. */
#ifndef MQTRACE_TRACEFS_SHIM_H
#define MQTRACE_TRACEFS_SHIM_H

#ifdef __cplusplus
extern "C" {
#endif

struct mqt_instance;
struct mqt_cpu;

/* The tracefs mount point, mounting tracefs at /sys/kernel/tracing if needed; NULL if none. */
const char* mqt_tracing_dir(void);
struct mqt_instance* mqt_instance_create(const char* name, int* is_new);
struct mqt_instance* mqt_instance_open(const char* name); /* existing instance, or NULL */
int mqt_instance_destroy(struct mqt_instance* inst);      /* rmdir; does not free */
void mqt_instance_free(struct mqt_instance* inst);
/* name == NULL: the top level. */
int mqt_file_write(struct mqt_instance* inst, const char* file, const char* str);
int mqt_file_append(struct mqt_instance* inst, const char* file, const char* str);
char* mqt_file_read(struct mqt_instance* inst, const char* file, int* size); /* free() it */
char* mqt_error_last(void); /* last error_log entry, free() it; may be NULL */

/* Opens per_cpu/cpuN/trace_pipe_raw non-blocking, for sub-buffers of subbuf_size bytes. */
struct mqt_cpu* mqt_cpu_open(struct mqt_instance* inst, int cpu, int subbuf_size);
int mqt_cpu_fd(struct mqt_cpu* c); /* for poll() */
int mqt_cpu_read_size(struct mqt_cpu* c);
int mqt_cpu_read(struct mqt_cpu* c, void* buf); /* non-blocking; 0 = nothing buffered */
void mqt_cpu_close(struct mqt_cpu* c);

#ifdef __cplusplus
}
#endif
#endif
