/* PID 1 duties (after bubblewrap's do_init): every child is reaped — the shell, one-shot
 * processes and every orphan re-parented to us — from a waitpid loop driven by a signalfd.
 * SIGTERM stops the sandbox: everything gets SIGTERM, then SIGKILL after a grace, and the runner
 * exits 0 once no child is left. Not being PID 1 (tests, tools) we are a child subreaper, so the
 * same holds for our own descendants. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include "runner.h"

static void signal_event(struct runner *r, struct sk_watch *w, uint32_t events);

int reaper_setup(struct runner *r, sk_error_t *err) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  /* Blocked signals stay pending even for PID 1, which the kernel otherwise spares from
   * signals it has no handler for; the signalfd then reads them. */
  if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
    return sk_error_errno(err, "sigprocmask");
  struct sigaction ign = {.sa_handler = SIG_IGN};
  if (sigaction(SIGPIPE, &ign, NULL) < 0)
    return sk_error_errno(err, "sigaction SIGPIPE");
  r->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (r->sigfd < 0)
    return sk_error_errno(err, "signalfd");
  r->pid1 = getpid() == 1;
  if (!r->pid1 && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
    return sk_error_errno(err, "prctl PR_SET_CHILD_SUBREAPER");
  return watch_add(r, &r->sig_w, r->sigfd, EPOLLIN, signal_event, err);
}

void reaper_child_reset(void) {
  sigset_t empty;
  sigemptyset(&empty);
  struct sigaction dfl = {.sa_handler = SIG_DFL};
  /* Ignored dispositions survive exec — ours (SIGPIPE) and any we inherited, such as SIGINT
   * from a shell that started us in the background. Children start from the defaults. */
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      sigaction(sig, &dfl, NULL);
  sigprocmask(SIG_SETMASK, &empty, NULL);
}

void reaper_reap(struct runner *r) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno == EINTR)
      continue;
    if (pid < 0) {
      if (errno == ECHILD && r->shutting_down)
        r->exit_now = true;
      return;
    }
    if (pid == 0)
      return;
    if (pid == r->shell.pid)
      shell_on_exit(r, status);
    else
      run_on_exit(r, pid, status);
    /* Anything else was an orphan handed to us: reaping it is all it needed. */
  }
}

/* Forwarded, not acted on: SIGINT interrupts what runs (the shell's foreground job and every
 * one-shot process); SIGHUP hangs up the shell (which a new one replaces) and the processes. */
static void forward(struct runner *r, int sig) {
  if (sig == SIGINT && r->shell.pid > 0) {
    pid_t target;
    sk_error_t err;
    if (shell_signal_fg(r, SIGINT, &target, &err) < 0)
      sk_log("warn", "forward SIGINT: %s", err.msg);
  } else if (sig == SIGHUP && r->shell.pid > 0 && kill(r->shell.pid, SIGHUP) < 0 && errno != ESRCH) {
    sk_log("warn", "forward SIGHUP to the shell: %s", strerror(errno));
  }
  run_signal_all(r, sig);
}

static void signal_event(struct runner *r, struct sk_watch *w, uint32_t events) {
  (void)events;
  struct signalfd_siginfo si;
  for (;;) {
    ssize_t n = read(w->fd, &si, sizeof si);
    if (n < 0 && errno == EINTR)
      continue;
    if (n != (ssize_t)sizeof si)
      break; /* EAGAIN: drained */
    switch (si.ssi_signo) {
    case SIGTERM:
      runner_shutdown_begin(r, "SIGTERM");
      break;
    case SIGINT:
    case SIGHUP:
      forward(r, (int)si.ssi_signo);
      break;
    default:
      break; /* SIGCHLD: reaped below, whichever signal woke us */
    }
  }
  reaper_reap(r);
}

/* ---- shutdown ---- */

struct proc {
  pid_t pid, ppid;
};

static pid_t read_ppid(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  /* "pid (comm) state ppid …": comm may hold anything, so look from the last ')'. */
  char *p = strrchr(buf, ')');
  int ppid;
  if (p == NULL || sscanf(p + 1, " %*c %d", &ppid) != 1)
    return -1;
  return ppid;
}

/* Signals every descendant found in /proc; as a subreaper, orphans of our descendants are our
 * children, so the parent links lead every descendant back to us. */
static void signal_descendants(int sig) {
  cleanup_dir DIR *d = opendir("/proc");
  if (d == NULL) {
    sk_log("warn", "opendir /proc: %s", strerror(errno));
    return;
  }
  struct proc *ps = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    char *end;
    long pid = strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0)
      continue;
    pid_t ppid = read_ppid((pid_t)pid);
    if (ppid < 0)
      continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 256;
      ps = xrealloc(ps, cap * sizeof *ps);
    }
    ps[n++] = (struct proc){(pid_t)pid, ppid};
  }
  bool *mine = xcalloc(n ? n : 1, sizeof *mine);
  pid_t self = getpid();
  for (bool grew = true; grew;) {
    grew = false;
    for (size_t i = 0; i < n; i++) {
      if (mine[i])
        continue;
      bool parent_mine = ps[i].ppid == self;
      for (size_t k = 0; k < n && !parent_mine; k++)
        parent_mine = mine[k] && ps[k].pid == ps[i].ppid;
      if (parent_mine)
        mine[i] = grew = true;
    }
  }
  for (size_t i = 0; i < n; i++)
    if (mine[i] && kill(ps[i].pid, sig) < 0 && errno != ESRCH)
      sk_log("warn", "kill %d: %s", (int)ps[i].pid, strerror(errno));
  free(mine);
  free(ps);
}

static void signal_everyone(struct runner *r, int sig) {
  if (r->pid1) {
    /* Every process of the sandbox but us. */
    if (kill(-1, sig) < 0 && errno != ESRCH)
      sk_log("warn", "kill -1: %s", strerror(errno));
  } else {
    signal_descendants(sig);
  }
}

void runner_shutdown_begin(struct runner *r, const char *why) {
  if (r->shutting_down)
    return;
  r->shutting_down = true;
  sk_log("info", "shutting down (%s)", why);
  if (r->listenfd >= 0) {
    watch_del(r, &r->listen_w);
    close(r->listenfd);
    r->listenfd = -1;
    if (unlink(r->opts.socket_path) < 0 && errno != ENOENT)
      sk_log("warn", "unlink `%s`: %s", r->opts.socket_path, strerror(errno));
  }
  /* An interactive shell ignores SIGTERM; a hangup ends it and its jobs. */
  if (r->shell.pid > 0)
    kill(r->shell.pid, SIGHUP);
  signal_everyone(r, SIGTERM);
  signal_everyone(r, SIGCONT);
  r->shutdown_deadline = now_ns() + MS_NS(r->opts.stop_grace_ms);
  reaper_reap(r);
}

uint64_t reaper_next_deadline(struct runner *r) {
  if (!r->shutting_down)
    return 0;
  /* Also wake up now and then to notice the last child is gone (ECHILD). */
  uint64_t soon = now_ns() + MS_NS(50);
  return r->shutdown_deadline < soon ? r->shutdown_deadline : soon;
}

void reaper_timers(struct runner *r, uint64_t now) {
  if (!r->shutting_down)
    return;
  reaper_reap(r);
  if (r->exit_now || now < r->shutdown_deadline)
    return;
  if (!r->shutdown_killed) {
    sk_log("info", "processes left after %llu ms: SIGKILL", (unsigned long long)r->opts.stop_grace_ms);
    signal_everyone(r, SIGKILL);
    r->shutdown_killed = true;
    r->shutdown_deadline = now + MS_NS(1000);
    return;
  }
  sk_log("warn", "processes survived SIGKILL (uninterruptible sleep?); exiting anyway");
  r->exit_now = true;
}

/* ---- signal names ---- */

int signal_parse(const char *s) {
  if (s[0] >= '0' && s[0] <= '9') {
    char *end;
    long n = strtol(s, &end, 10);
    return *end == '\0' && n > 0 && n < NSIG ? (int)n : -1;
  }
  if (strncasecmp(s, "SIG", 3) == 0)
    s += 3;
  for (int sig = 1; sig < SIGRTMIN; sig++) {
    const char *name = sigabbrev_np(sig);
    if (name != NULL && strcasecmp(name, s) == 0)
      return sig;
  }
  return -1;
}

const char *signal_name(int sig) {
  static char buf[16];
  const char *name = sigabbrev_np(sig);
  if (name == NULL) {
    snprintf(buf, sizeof buf, "SIG%d", sig);
    return buf;
  }
  snprintf(buf, sizeof buf, "SIG%s", name);
  return buf;
}
