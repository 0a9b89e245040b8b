/* fork + exec for the shell and one-shot processes. The child reports a failure before exec
 * (chdir, exec itself) as (step, errno) over a close-on-exec pipe (after crun), so the caller
 * sees "exec `foo`: No such file or directory" instead of a child that exits 127. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include "runner.h"

extern char **environ;

enum { STEP_SETSID = 1, STEP_TTY, STEP_STDIO, STEP_CHDIR, STEP_EXEC };

static _Noreturn void child_fail(int pipefd, int step) {
  int msg[2] = {step, errno};
  /* Nothing else to tell it with if this write fails. */
  if (write(pipefd, msg, sizeof msg) < 0) {
  }
  _exit(127);
}

static int child_stdio(const struct spawn_opts *o) {
  if (o->tty != NULL) {
    /* A session leader without a terminal acquires the first one it opens. */
    int fd = open(o->tty, O_RDWR);
    if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) < 0)
      return -1;
    for (int i = 0; i < 3; i++)
      if (dup2(fd, i) < 0)
        return -1;
    if (fd > 2)
      close(fd);
    return 0;
  }
  for (int i = 0; i < 3; i++) {
    int src = o->fds[i];
    if (src < 0) {
      src = open("/dev/null", O_RDWR);
      if (src < 0)
        return -1;
    }
    /* Our own 0-2 are always open (main sees to it), so src > 2 and dup2 never aliases. */
    if (dup2(src, i) < 0)
      return -1;
  }
  return 0;
}

static _Noreturn void child(const struct spawn_opts *o, int pipefd) {
  reaper_child_reset();
  if (setsid() < 0)
    child_fail(pipefd, STEP_SETSID);
  if (child_stdio(o) < 0)
    child_fail(pipefd, o->tty ? STEP_TTY : STEP_STDIO);
  if (o->cwd != NULL && chdir(o->cwd) < 0)
    child_fail(pipefd, STEP_CHDIR);
  if (o->search_path && strchr(o->argv[0], '/') == NULL) {
    /* execvp searches the PATH of `environ`: make it the child's. */
    environ = (char **)o->envp;
    execvp(o->argv[0], o->argv);
  } else {
    execve(o->argv[0], o->argv, o->envp);
  }
  child_fail(pipefd, STEP_EXEC);
}

pid_t spawn_process(const struct spawn_opts *o, sk_error_t *err) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0)
    return sk_error_errno(err, "pipe2");
  cleanup_close int rd = p[0];
  cleanup_close int wr = p[1];
  pid_t pid = fork();
  if (pid < 0)
    return sk_error_errno(err, "fork");
  if (pid == 0)
    child(o, wr);
  close(steal_fd(&wr));
  int msg[2];
  ssize_t n;
  do
    n = read(rd, msg, sizeof msg);
  while (n < 0 && errno == EINTR);
  if (n == 0)
    return pid; /* the pipe closed on exec */
  /* It failed and is exiting: reap it here so nobody else sees a stray pid. */
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
  if (n != (ssize_t)sizeof msg)
    return sk_error_errno(err, "read the exec status of `%s`", o->argv[0]);
  switch (msg[0]) {
  case STEP_CHDIR:
    return sk_error_set(err, msg[1], "chdir `%s`", o->cwd);
  case STEP_EXEC:
    return sk_error_set(err, msg[1], "exec `%s`", o->argv[0]);
  case STEP_TTY:
    return sk_error_set(err, msg[1], "open terminal `%s`", o->tty);
  default:
    return sk_error_set(err, msg[1], "set up the process for `%s`", o->argv[0]);
  }
}
