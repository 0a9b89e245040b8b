/* Helpers for the commands that act on an existing container: the verified pidfd of its init,
 * waiting with signal forwarding, and tearing it down. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "container.h"
#include "resources.h"
#include "util.h"

int open_container_pidfd(const sk_state_t *st, sk_error_t *err) {
  if (st->pid <= 0)
    return sk_error_set(err, ESRCH, "container `%s` has no process", st->id);
  int fd = (int)syscall(SYS_pidfd_open, st->pid, 0);
  if (fd < 0)
    return errno == ESRCH ? sk_error_set(err, ESRCH, "container `%s` is not running", st->id)
                          : sk_error_errno(err, "pidfd_open %d", (int)st->pid);
  /* The pidfd pins the process; if its start time is ours, it is ours for as long as we hold it. */
  unsigned long long t;
  bool zombie = false;
  if (state_proc_start_time(st->pid, &t, &zombie) < 0 || zombie || t != st->start_time) {
    close(fd);
    return sk_error_set(err, ESRCH, "container `%s` is not running", st->id);
  }
  return fd;
}

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

int wait_forwarding_signals(pid_t pid, int pidfd, int *status, sk_error_t *err) {
  sigset_t set;
  sigemptyset(&set);
  for (size_t i = 0; i < SK_ARRAY_SIZE(forwarded); i++)
    sigaddset(&set, forwarded[i]);
  sigprocmask(SIG_BLOCK, &set, NULL);
  cleanup_close int sfd = signalfd(-1, &set, SFD_CLOEXEC);
  if (sfd < 0)
    return sk_error_errno(err, "signalfd");
  struct pollfd fds[2] = {{.fd = pidfd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      return sk_error_errno(err, "poll");
    }
    if (fds[1].revents & POLLIN) {
      struct signalfd_siginfo si;
      if (read(sfd, &si, sizeof si) == sizeof si)
        syscall(SYS_pidfd_send_signal, pidfd, (int)si.ssi_signo, NULL, 0);
    }
    if (fds[0].revents & (POLLIN | POLLHUP))
      break;
  }
  int ws;
  while (waitpid(pid, &ws, 0) < 0)
    if (errno != EINTR)
      return sk_error_errno(err, "waitpid %d", (int)pid);
  *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : 1;
  return 0;
}

int container_destroy(sk_state_t *st, sk_error_t *err) {
  if (st->status == SK_STATUS_CREATED || st->status == SK_STATUS_RUNNING) {
    int fd = open_container_pidfd(st, err);
    /* Killing the pid namespace's init takes every process of the namespace with it. */
    if (fd >= 0) {
      if (syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) < 0 && errno != ESRCH) {
        sk_error_errno(err, "kill the init process of `%s`", st->id);
        close(fd);
        return -1;
      }
      close(fd);
    }
  }
  if (st->has_cgroup && cgroup_destroy(&st->cgroup, err) < 0)
    return sk_error_wrap(err, "delete `%s`", st->id);
  return state_remove(st, err);
}
