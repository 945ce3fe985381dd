/* issue 14: the probe of the complain-mode tests. Makes each syscall named
 * on the command line ("all": the whole probe set) with arguments that do
 * no harm even when the syscall is allowed, and prints one line per call,
 * "NAME ERRNO" (0: it succeeded). Under RuntimeDefault a denied syscall
 * answers EPERM (1); under the logging twin it runs and the kernel logs it.
 * Built static by the test, bind-mounted into the container as /probe. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static long call(const char *name)
{
        char buf[256];
        struct timespec ts = {0, 0};
        struct utsname u;
        int fds[2];
        if (!strcmp(name, "getpid"))
                return syscall(SYS_getpid);
        if (!strcmp(name, "getppid"))
                return syscall(SYS_getppid);
        if (!strcmp(name, "getuid"))
                return syscall(SYS_getuid);
        if (!strcmp(name, "gettid"))
                return syscall(SYS_gettid);
        if (!strcmp(name, "uname"))
                return syscall(SYS_uname, &u);
        if (!strcmp(name, "getcwd"))
                return syscall(SYS_getcwd, buf, sizeof(buf)) < 0 ? -1 : 0;
        if (!strcmp(name, "close"))
                return syscall(SYS_close, -1);
        if (!strcmp(name, "dup"))
                return syscall(SYS_dup, -1);
        if (!strcmp(name, "getrandom"))
                return syscall(SYS_getrandom, buf, 1, 0) < 0 ? -1 : 0;
        if (!strcmp(name, "clock_gettime"))
                return syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
        if (!strcmp(name, "nanosleep"))
                return syscall(SYS_nanosleep, &ts, NULL);
        if (!strcmp(name, "sched_yield"))
                return syscall(SYS_sched_yield);
        if (!strcmp(name, "pipe2")) {
                long r = syscall(SYS_pipe2, fds, O_CLOEXEC);
                if (r == 0) {
                        close(fds[0]);
                        close(fds[1]);
                }
                return r;
        }
        if (!strcmp(name, "personality_query"))
                return syscall(SYS_personality, 0xffffffffUL) < 0 ? -1 : 0;
        if (!strcmp(name, "personality_odd"))
                /* ADDR_NO_RANDOMIZE: not one of the values RuntimeDefault allows */
                return syscall(SYS_personality, 0x0040000UL) < 0 ? -1 : 0;
        if (!strcmp(name, "io_uring_setup"))
                return syscall(SYS_io_uring_setup, 0, NULL);
        if (!strcmp(name, "membarrier"))
                return syscall(SYS_membarrier, 0, 0, 0) < 0 ? -1 : 0; /* QUERY */
        if (!strcmp(name, "keyctl"))
                return syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_THREAD_KEYRING, 0) < 0
                           ? -1
                           : 0;
        if (!strcmp(name, "add_key"))
                return syscall(SYS_add_key, "crisp-no-such-type", "d", "x", 1,
                               KEY_SPEC_THREAD_KEYRING);
        if (!strcmp(name, "request_key"))
                return syscall(SYS_request_key, "crisp-no-such-type", "d", NULL, 0);
        if (!strcmp(name, "unshare"))
                return syscall(SYS_unshare, 0); /* no flags: changes nothing */
        if (!strcmp(name, "mount"))
                return syscall(SYS_mount, "none", "/crisp-no-such-dir", "tmpfs", 0, NULL);
        if (!strcmp(name, "umount2"))
                return syscall(SYS_umount2, "/crisp-no-such-dir", 0);
        if (!strcmp(name, "pivot_root"))
                return syscall(SYS_pivot_root, "/crisp-no-such-dir", "/crisp-no-such-dir");
        if (!strcmp(name, "setns"))
                return syscall(SYS_setns, -1, 0);
        if (!strcmp(name, "clone_newuser"))
                /* CLONE_NEWUSER|CLONE_FS is refused by the kernel: no child */
                return syscall(SYS_clone, CLONE_NEWUSER | CLONE_FS, NULL, NULL, NULL, 0);
        if (!strcmp(name, "clone3"))
                return syscall(SYS_clone3, NULL, 0);
        if (!strcmp(name, "reboot"))
                return syscall(SYS_reboot, 0, 0, 0, NULL); /* bad magic: EINVAL */
        if (!strcmp(name, "swapon"))
                return syscall(SYS_swapon, "/crisp-no-such-file", 0);
        if (!strcmp(name, "acct"))
                return syscall(SYS_acct, "/crisp-no-such-file");
        if (!strcmp(name, "init_module"))
                return syscall(SYS_init_module, NULL, 0, "");
        if (!strcmp(name, "delete_module"))
                return syscall(SYS_delete_module, "crisp_no_such_module", O_NONBLOCK);
        if (!strcmp(name, "kexec_load"))
                return syscall(SYS_kexec_load, 0, 0, NULL, 0);
        if (!strcmp(name, "bpf"))
                return syscall(SYS_bpf, -1, NULL, 0);
        if (!strcmp(name, "perf_event_open"))
                return syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0);
        if (!strcmp(name, "userfaultfd"))
                return syscall(SYS_userfaultfd, 0x12345678); /* bad flags: EINVAL */
        if (!strcmp(name, "settimeofday"))
                return syscall(SYS_settimeofday, NULL, NULL); /* nothing to set */
        if (!strcmp(name, "vhangup"))
                return syscall(SYS_vhangup);
        if (!strcmp(name, "quotactl"))
                return syscall(SYS_quotactl, 0, NULL, 0, NULL);
        if (!strcmp(name, "get_mempolicy"))
                return syscall(SYS_get_mempolicy, NULL, NULL, 0, NULL, 0);
        if (!strcmp(name, "name_to_handle_at"))
                return syscall(SYS_name_to_handle_at, -1, "", NULL, NULL, 0);
        if (!strcmp(name, "lookup_dcookie"))
                return syscall(SYS_lookup_dcookie, 0, NULL, 0);
        errno = ENOENT;
        return -2;
}

static const char *const all[] = {
    "getpid",
    "getppid",
    "getuid",
    "gettid",
    "uname",
    "getcwd",
    "close",
    "dup",
    "getrandom",
    "clock_gettime",
    "nanosleep",
    "sched_yield",
    "pipe2",
    "personality_query",
    "personality_odd",
    "io_uring_setup",
    "membarrier",
    "keyctl",
    "add_key",
    "request_key",
    "unshare",
    "mount",
    "umount2",
    "pivot_root",
    "setns",
    "clone_newuser",
    "clone3",
    "reboot",
    "swapon",
    "acct",
    "init_module",
    "delete_module",
    "kexec_load",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "settimeofday",
    "vhangup",
    "quotactl",
    "get_mempolicy",
    "name_to_handle_at",
    "lookup_dcookie",
};

static void run(const char *name)
{
        errno = 0;
        long r = call(name);
        if (r == -2) {
                printf("%s unknown\n", name);
                return;
        }
        printf("%s %d\n", name, r < 0 ? errno : 0);
}

int main(int argc, char **argv)
{
        setvbuf(stdout, NULL, _IOLBF, 0);
        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "all"))
                        for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++)
                                run(all[k]);
                else
                        run(argv[i]);
        }
        printf("probe done\n");
        return 0;
}
