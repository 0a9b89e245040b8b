/* syscall-probe NAME...: makes each named syscall with harmless arguments and prints
 * "NAME=ERRNO" (0 on success), so tests can tell a seccomp denial (the profile's errno) from the
 * kernel's own answer. Built static by the tests and copied into the sandbox's rootfs. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long call(const char *n) {
  if (!strcmp(n, "getpid")) return syscall(SYS_getpid);
  if (!strcmp(n, "mount")) return syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, NULL);
  if (!strcmp(n, "umount2")) return syscall(SYS_umount2, "/proc", 0);
  if (!strcmp(n, "unshare")) return syscall(SYS_unshare, CLONE_NEWUTS);
  if (!strcmp(n, "setns")) return syscall(SYS_setns, 0, CLONE_NEWNET);
  if (!strcmp(n, "ptrace")) return syscall(SYS_ptrace, PTRACE_ATTACH, 0x3fffffff, NULL, NULL); /* normally ESRCH */
  if (!strcmp(n, "bpf")) return syscall(SYS_bpf, 0, NULL, 0);
  if (!strcmp(n, "keyctl")) return syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3 /* session */, 0);
  if (!strcmp(n, "add_key")) return syscall(SYS_add_key, "user", "probe", "x", 1, -3);
  if (!strcmp(n, "request_key")) return syscall(SYS_request_key, "user", "probe", NULL, 0);
  if (!strcmp(n, "clone3")) return syscall(SYS_clone3, NULL, 0);
  if (!strcmp(n, "clone_newuser")) {
    long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, 0);
    if (r == 0) _exit(0);
    if (r > 0) waitpid((pid_t)r, NULL, 0);
    return r < 0 ? r : 0;
  }
  errno = ENOSYS;
  fprintf(stderr, "syscall-probe: unknown `%s`\n", n);
  return -1;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    errno = 0;
    long r = call(argv[i]);
    printf("%s=%d\n", argv[i], r < 0 ? errno : 0);
  }
  return 0;
}
