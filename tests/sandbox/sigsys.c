// LD_PRELOAD for tests/systemd-sandbox-test: every system call the seccomp
// filter of seccomp-run (MODE trap) refuses is reported on standard error as
// "SECCOMP-DENIED <number>" and fails with EPERM, as it would in the unit.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

static void on_sigsys(int sig, siginfo_t* si, void* ctx) {
    (void)sig;
    char b[48] = "SECCOMP-DENIED ";
    char d[16];
    int n = 0;
    unsigned v = (unsigned)si->si_syscall;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    size_t len = strlen(b);
    while (n)
        b[len++] = d[--n];
    b[len++] = '\n';
    if (write(2, b, len) < 0) { /* nothing to do */
    }
    ((ucontext_t*)ctx)->uc_mcontext.gregs[REG_RAX] = -EPERM;
}

__attribute__((constructor)) static void install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSYS, &sa, NULL);
}
