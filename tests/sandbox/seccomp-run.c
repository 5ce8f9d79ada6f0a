// seccomp-run ALLOWFILE MODE PROGRAM [ARGS...]: run PROGRAM under a system
// call allow list (numbers, one per line), as systemd applies
// SystemCallFilter= with SystemCallArchitectures=native: other architectures
// are killed, calls not in the list fail with EPERM (MODE errno, as
// SystemCallErrorNumber=EPERM) or raise SIGSYS (MODE trap, for sigsys.so to
// report). Sets no_new_privs, as NoNewPrivileges=yes. For
// tests/systemd-sandbox-test (x86_64).
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

enum { kMaxCalls = 1024 };

int main(int argc, char** argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: seccomp-run ALLOWFILE errno|trap PROGRAM [ARGS...]\n");
        return 2;
    }
    FILE* f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    unsigned nrs[kMaxCalls];
    int n = 0;
    while (n < kMaxCalls && fscanf(f, "%u", &nrs[n]) == 1)
        ++n;
    fclose(f);
    const unsigned deny =
        strcmp(argv[2], "trap") == 0 ? SECCOMP_RET_TRAP : (SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA));
    static struct sock_filter prog[2 * kMaxCalls + 8];
    unsigned short p = 0;
    const struct sock_filter load_arch =
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    const struct sock_filter is_native = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
    const struct sock_filter kill = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    const struct sock_filter load_nr = BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    const struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    const struct sock_filter refuse = BPF_STMT(BPF_RET | BPF_K, deny);
    prog[p++] = load_arch;
    prog[p++] = is_native;
    prog[p++] = kill;
    prog[p++] = load_nr;
    for (int i = 0; i < n; ++i) {
        const struct sock_filter is_nr = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nrs[i], 0, 1);
        prog[p++] = is_nr;
        prog[p++] = allow;
    }
    prog[p++] = refuse;
    struct sock_fprog fp = {p, prog};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        perror("PR_SET_NO_NEW_PRIVS");
        return 2;
    }
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp) != 0) {
        perror("PR_SET_SECCOMP");
        return 2;
    }
    execv(argv[3], argv + 3);
    perror(argv[3]);
    return 127;
}
