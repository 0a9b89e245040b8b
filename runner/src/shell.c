/* The persistent shell: one login shell on a PTY whose working directory, variables,
 * functions, aliases and jobs outlive each exec.
 *
 * An exec writes the command into a memfd and types one fixed line at the shell:
 *     { __sk_s=$?; __sk_n=NONCE; PS1='…'; …; } 2>/dev/null; . /proc/<runner>/fd/<memfd> </dev/null
 * so the command runs in the shell itself (not a subshell: cd/export/functions stick), any
 * bytes and any number of lines work, and it reads EOF from stdin instead of our protocol.
 * Its end is the prompt: bash's PROMPT_COMMAND (or, for other shells, PS1) prints
 *     \x1e NONCE <status> ; <cwd> \x1e NONCE
 * to the terminal. The nonce is 128 random bits per exec, so neither the command's output nor
 * an old marker can be mistaken for it. The PTY runs with echo and output processing off, so
 * output bytes come through exactly as written. */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include "runner.h"

#define START_TIMEOUT_MS 30000
/* After the shell died mid-exec, output may still be on its way through the PTY. */
#define SETTLE_MS 20
#define MARKER_LEN 33

/* Sourced once by every new shell. Works in bash, dash and busybox ash: bash prints the marker
 * from PROMPT_COMMAND (to /dev/tty, so `exec 2>file` cannot hide it) and empties PS1; other
 * shells expand the marker from PS1. */
static const char setup_script[] =
    "__sk_r=$(printf '\\036')\n"
    "set +o history 2>/dev/null\n"
    "unset HISTFILE TMOUT 2>/dev/null\n"
    /* busybox ash takes a read interrupted by SIGCHLD for end of input */
    "set -o ignoreeof 2>/dev/null\n"
    "shopt -s expand_aliases 2>/dev/null\n"
    "__sk_ret() { return $1; }\n"
    "__sk_p() { { __sk_s=$?; PS1=; "
    "builtin printf '%s%s%d;%s%s%s' \"$__sk_r\" \"$__sk_n\" \"$__sk_s\" \"$PWD\" \"$__sk_r\" \"$__sk_n\" >/dev/tty || "
    "builtin printf '%s%s%d;%s%s%s' \"$__sk_r\" \"$__sk_n\" \"$__sk_s\" \"$PWD\" \"$__sk_r\" \"$__sk_n\" >&9; "
    "} 9>&2 2>/dev/null; return $__sk_s; }\n"
    "PROMPT_COMMAND=__sk_p\n"
    "PS2=\n";

const char *shell_state_name(enum shell_state s) {
  switch (s) {
  case SHELL_DOWN:
    return "down";
  case SHELL_STARTING:
    return "starting";
  case SHELL_IDLE:
    return "idle";
  case SHELL_BUSY:
    return "busy";
  case SHELL_FAILED:
    return "failed";
  }
  return "?";
}

/* ---- command file ---- */

static int cmdfile_private(struct shell *sh, sk_error_t *err) {
  static const char *const dirs[] = {"/run/sandkasten-runner", "/tmp/.sandkasten-runner"};
  for (size_t i = 0; i < SK_ARRAY_SIZE(dirs); i++) {
    struct stat st;
    if (mkdir(dirs[i], 0700) < 0 && errno != EEXIST)
      continue;
    /* Someone else's directory, or a symlink planted there, is not private. */
    if (lstat(dirs[i], &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
      continue;
    snprintf(sh->cmd_path, sizeof sh->cmd_path, "%s/cmd", dirs[i]);
    sh->cmdfd = open(sh->cmd_path, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (sh->cmdfd >= 0)
      return 0;
  }
  return sk_error_errno(err, "no place for the command file (memfd and /proc unavailable, /run and /tmp not writable)");
}

/* The command travels in a memfd the shell opens as /proc/<runner>/fd/<n>: nothing is written
 * to the sandbox's filesystem. Without /proc, a private file is the fallback. */
static int cmdfile_init(struct shell *sh, sk_error_t *err) {
  sh->cmdfd = memfd_create("sandkasten-cmd", MFD_CLOEXEC);
  if (sh->cmdfd >= 0) {
    snprintf(sh->cmd_path, sizeof sh->cmd_path, "/proc/%d/fd/%d", (int)getpid(), sh->cmdfd);
    int probe = open(sh->cmd_path, O_RDONLY | O_CLOEXEC);
    if (probe >= 0) {
      close(probe);
      return 0;
    }
    close(sh->cmdfd);
    sh->cmdfd = -1;
  }
  return cmdfile_private(sh, err);
}

int shell_init(struct runner *r, sk_error_t *err) {
  struct shell *sh = &r->shell;
  sh->master = -1;
  sh->master_w.fd = -1;
  sh->cmdfd = -1;
  if (strcmp(r->opts.shell, "auto") == 0)
    r->opts.shell = access("/bin/bash", X_OK) == 0 ? "/bin/bash" : "/bin/sh";
  const char *base = strrchr(r->opts.shell, '/');
  sh->is_bash = strstr(base ? base + 1 : r->opts.shell, "bash") != NULL;
  return cmdfile_init(sh, err);
}

/* ---- terminal ---- */

/* Echo off (our line never shows up as output), output processing off (no \n → \r\n), but
 * canonical input so the shell reads our line as a line. Programs like `stty sane` or an editor
 * may change it; shell_send puts it back before every exec. */
static int pty_configure(int fd, sk_error_t *err) {
  struct termios t;
  if (tcgetattr(fd, &t) < 0)
    return sk_error_errno(err, "tcgetattr");
  tcflag_t lflag = (t.c_lflag & ~(ECHO | ECHOE | ECHOK | ECHONL | ECHOCTL | ECHOKE | ECHOPRT)) | ICANON | ISIG;
  tcflag_t oflag = t.c_oflag & ~OPOST;
  tcflag_t iflag = (t.c_iflag & ~(IXON | IXOFF | INLCR | IGNCR)) | IUTF8;
  if (lflag == t.c_lflag && oflag == t.c_oflag && iflag == t.c_iflag)
    return 0;
  t.c_lflag = lflag;
  t.c_oflag = oflag;
  t.c_iflag = iflag;
  if (tcsetattr(fd, TCSANOW, &t) < 0)
    return sk_error_errno(err, "tcsetattr");
  return 0;
}

static int pty_open(struct shell *sh, char *slave, size_t slave_len, sk_error_t *err) {
  int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0)
    return sk_error_errno(err, "open the PTY master /dev/ptmx");
  sh->master = fd;
  if (grantpt(fd) < 0 || unlockpt(fd) < 0)
    return sk_error_errno(err, "unlock the PTY");
  int e = ptsname_r(fd, slave, slave_len);
  if (e != 0)
    return sk_error_set(err, e, "ptsname");
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
    return sk_error_errno(err, "fcntl O_NONBLOCK on the PTY");
  /* Wide enough that tools do not wrap what an agent reads. */
  struct winsize ws = {.ws_row = 50, .ws_col = 200};
  if (ioctl(fd, TIOCSWINSZ, &ws) < 0)
    return sk_error_errno(err, "TIOCSWINSZ");
  return pty_configure(fd, err);
}

static void pty_close(struct runner *r) {
  struct shell *sh = &r->shell;
  watch_del(r, &sh->master_w);
  if (sh->master >= 0)
    close(sh->master);
  sh->master = -1;
  sh->master_paused = false;
  sk_buf_reset(&sh->scan);
}

/* ---- marker scanning ---- */

enum { SCAN_MORE, SCAN_DONE };
enum { M_INVALID, M_PARTIAL, M_COMPLETE };

/* p starts with the marker; checks for "<1-3 digits>;<cwd>" and the closing marker. */
static int parse_marker(const uint8_t *p, size_t n, const char *marker, int *status, const uint8_t **cwd,
                        size_t *cwd_len) {
  size_t i = MARKER_LEN;
  int digits = 0, st = 0;
  while (i < n && p[i] >= '0' && p[i] <= '9') {
    if (++digits > 3)
      return M_INVALID;
    st = st * 10 + (p[i] - '0');
    i++;
  }
  if (i == n)
    return M_PARTIAL;
  if (digits == 0 || p[i] != ';')
    return M_INVALID;
  i++;
  size_t room = n - i;
  if (room > PATH_MAX + MARKER_LEN)
    room = PATH_MAX + MARKER_LEN;
  const uint8_t *end = memmem(p + i, room, marker, MARKER_LEN);
  if (end == NULL)
    return n - i >= PATH_MAX + MARKER_LEN ? M_INVALID : M_PARTIAL;
  if ((size_t)(end - (p + i)) > PATH_MAX)
    return M_INVALID;
  *status = st;
  *cwd = p + i;
  *cwd_len = (size_t)(end - (p + i));
  return M_COMPLETE;
}

/* Length of the longest proper suffix of b that is a prefix of the marker. */
static size_t marker_prefix_tail(const uint8_t *b, size_t len, const char *marker) {
  size_t max = len < MARKER_LEN - 1 ? len : MARKER_LEN - 1;
  for (size_t k = max; k > 0; k--)
    if (b[len - k] == (uint8_t)marker[0] && memcmp(b + len - k, marker, k) == 0)
      return k;
  return 0;
}

struct marker_hit {
  int status;
  uint8_t cwd[PATH_MAX];
  size_t cwd_len;
};

/* Feeds PTY bytes through the marker scanner. Output before the marker goes to the exec when
 * `emit`; bytes that may begin a marker are held back until the next read decides. What follows
 * a complete marker is idle output and dropped. */
static int scan(struct runner *r, const uint8_t *data, size_t n, bool emit, struct marker_hit *hit) {
  struct shell *sh = &r->shell;
  struct sk_buf *held = &sh->scan;
  if (held->len > 0)
    sk_buf_append(held, data, n);
  const uint8_t *b = held->len > 0 ? sk_buf_head(held) : data;
  size_t len = held->len > 0 ? held->len : n;
  size_t pos = 0;
  for (;;) {
    const uint8_t *m = pos < len ? memmem(b + pos, len - pos, sh->marker, MARKER_LEN) : NULL;
    size_t keep_from;
    int status = 0;
    const uint8_t *cwd = NULL;
    size_t cwd_len = 0;
    int k = m ? parse_marker(m, len - (size_t)(m - b), sh->marker, &status, &cwd, &cwd_len) : M_PARTIAL;
    if (m != NULL && k == M_INVALID) {
      pos = (size_t)(m - b) + 1;
      continue;
    }
    if (m != NULL && k == M_COMPLETE) {
      if (emit && m > b)
        exec_output(r, b, (size_t)(m - b));
      hit->status = status;
      memcpy(hit->cwd, cwd, cwd_len);
      hit->cwd_len = cwd_len;
      sk_buf_reset(held);
      return SCAN_DONE;
    }
    keep_from = m ? (size_t)(m - b) : len - marker_prefix_tail(b, len, sh->marker);
    if (emit && keep_from > 0)
      exec_output(r, b, keep_from);
    if (held->len > 0) {
      sk_buf_consume(held, keep_from);
    } else {
      sk_buf_append(held, data + keep_from, n - keep_from);
    }
    return SCAN_MORE;
  }
}

/* Gives whatever is held back to the exec (the marker will not come any more). */
static void scan_flush(struct runner *r) {
  struct shell *sh = &r->shell;
  if (sh->scan.len > 0 && r->exec != NULL)
    exec_output(r, sk_buf_head(&sh->scan), sh->scan.len);
  sk_buf_reset(&sh->scan);
}

/* ---- lifecycle ---- */

static void new_marker(struct shell *sh) {
  static const char hex[] = "0123456789abcdef";
  uint8_t rnd[16];
  /* getrandom(16 bytes) does not fail once the pool is initialised; fall back to the clock. */
  if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
    uint64_t t = now_ns() ^ ((uint64_t)getpid() << 32);
    for (size_t i = 0; i < sizeof rnd; i++)
      rnd[i] = (uint8_t)(t >> ((i % 8) * 8)) ^ (uint8_t)(i * 131);
  }
  sh->marker[0] = 0x1e;
  for (size_t i = 0; i < sizeof rnd; i++) {
    sh->marker[1 + 2 * i] = hex[rnd[i] >> 4];
    sh->marker[2 + 2 * i] = hex[rnd[i] & 15];
  }
  sh->marker[MARKER_LEN] = '\0';
}

/* Types the fixed line that sources the command file (see the top of this file). */
static int type_line(struct shell *sh, sk_error_t *err) {
  char line[512];
  int n = snprintf(line, sizeof line,
                   "{ __sk_s=$?; __sk_n=%s; PS1='${__sk_r}${__sk_n}$?;${PWD}${__sk_r}${__sk_n}'; "
                   "case $- in *e*) ;; *) __sk_ret $__sk_s;; esac; } 2>/dev/null; . %s </dev/null\n",
                   sh->marker + 1, sh->cmd_path);
  if (n < 0 || (size_t)n >= sizeof line)
    return sk_error_set(err, ENAMETOOLONG, "shell line");
  ssize_t w;
  do
    w = write(sh->master, line, (size_t)n);
  while (w < 0 && errno == EINTR);
  if (w < 0)
    return sk_error_errno(err, "write to the shell's terminal");
  if (w != n)
    return sk_error_set(err, EAGAIN, "the shell's terminal took %zd of %d bytes", w, n);
  return 0;
}

static int write_command(struct shell *sh, const uint8_t *cmd, size_t len, sk_error_t *err) {
  if (pwrite_all(sh->cmdfd, cmd, len, 0) < 0)
    return sk_error_errno(err, "write the command file");
  if (ftruncate(sh->cmdfd, (off_t)len) < 0)
    return sk_error_errno(err, "truncate the command file");
  return 0;
}

static void master_event(struct runner *r, struct sk_watch *w, uint32_t events);
static void shell_finish_death(struct runner *r);

int shell_start(struct runner *r, sk_error_t *err) {
  struct shell *sh = &r->shell;
  char slave[64];
  sh->fail_msg[0] = '\0';
  if (pty_open(sh, slave, sizeof slave, err) < 0) {
    pty_close(r);
    goto fail;
  }
  char *argv_bash[] = {(char *)r->opts.shell, "--noediting", "-l", NULL};
  char *argv_sh[] = {(char *)r->opts.shell, "-l", NULL};
  struct spawn_opts o = {
      .argv = sh->is_bash ? argv_bash : argv_sh,
      .envp = r->env,
      .tty = slave,
  };
  pid_t pid = spawn_process(&o, err);
  if (pid < 0) {
    pty_close(r);
    goto fail;
  }
  sh->pid = pid;
  sh->state = SHELL_STARTING;
  sh->started_ns = now_ns();
  sh->start_deadline = sh->started_ns + MS_NS(START_TIMEOUT_MS);
  new_marker(sh);
  if (watch_add(r, &sh->master_w, sh->master, EPOLLIN, master_event, err) < 0 ||
      write_command(sh, (const uint8_t *)setup_script, sizeof setup_script - 1, err) < 0 || type_line(sh, err) < 0) {
    kill(pid, SIGKILL);
    goto fail; /* the reaper collects it; shell_on_exit sees state FAILED */
  }
  return 0;
fail:
  sh->state = SHELL_FAILED;
  snprintf(sh->fail_msg, sizeof sh->fail_msg, "start the shell `%.128s`: %.360s", r->opts.shell, err->msg);
  return sk_error_code(err, "SHELL_UNAVAILABLE", "%s", sh->fail_msg);
}

int shell_send(struct runner *r, const uint8_t *cmd, size_t len, sk_error_t *err) {
  struct shell *sh = &r->shell;
  if (sh->state != SHELL_IDLE)
    return sk_error_code(err, "SHELL_UNAVAILABLE", "the shell is %s", shell_state_name(sh->state));
  if (write_command(sh, cmd, len, err) < 0 || pty_configure(sh->master, err) < 0)
    return -1;
  new_marker(sh);
  if (type_line(sh, err) < 0)
    return -1;
  sh->state = SHELL_BUSY;
  return 0;
}

static pid_t fg_pgrp(struct shell *sh) {
  if (sh->master < 0)
    return -1;
  return tcgetpgrp(sh->master);
}

bool shell_fg_is_shell(struct runner *r) {
  pid_t pg = fg_pgrp(&r->shell);
  return pg <= 0 || pg == r->shell.pid;
}

int shell_signal_fg(struct runner *r, int sig, pid_t *target, sk_error_t *err) {
  struct shell *sh = &r->shell;
  if (sh->pid <= 0)
    return sk_error_code(err, "SHELL_UNAVAILABLE", "the shell is %s", shell_state_name(sh->state));
  pid_t pg = fg_pgrp(sh);
  /* A builtin (a `while` loop, `wait`) runs in the shell itself: signal the shell, whose
   * SIGINT handling aborts the command and returns to the prompt. */
  if (pg <= 0 || pg == sh->pid) {
    *target = sh->pid;
    if (kill(sh->pid, sig) < 0)
      return sk_error_errno(err, "kill shell %d", (int)sh->pid);
    return 0;
  }
  *target = -pg;
  if (kill(-pg, sig) < 0)
    return sk_error_errno(err, "kill process group %d", (int)pg);
  return 0;
}

void shell_kill(struct runner *r) {
  if (r->shell.pid > 0 && kill(r->shell.pid, SIGKILL) < 0 && errno != ESRCH)
    sk_log("warn", "kill the shell: %s", strerror(errno));
}

void shell_pause_output(struct runner *r, bool paused) {
  struct shell *sh = &r->shell;
  if (sh->master_paused == paused)
    return;
  sh->master_paused = paused;
  watch_set(r, &sh->master_w, paused ? 0 : EPOLLIN);
}

static void shell_restart(struct runner *r) {
  if (r->shutting_down)
    return;
  sk_error_t err;
  r->shell.restarted = true;
  if (shell_start(r, &err) < 0)
    sk_log("error", "%s", err.msg);
}

/* After a death mid-exec, once the PTY has given its last bytes: report, then start afresh. */
static void shell_finish_death(struct runner *r) {
  struct shell *sh = &r->shell;
  sh->settle_deadline = 0;
  if (r->exec != NULL)
    scan_flush(r);
  pty_close(r);
  if (r->exec != NULL)
    exec_shell_died(r, sh->exit_status);
  if (sh->state == SHELL_DOWN)
    shell_restart(r);
}

static void master_event(struct runner *r, struct sk_watch *w, uint32_t events) {
  (void)events;
  struct shell *sh = &r->shell;
  static uint8_t buf[SK_CHUNK];
  struct marker_hit hit;
  for (int i = 0; i < 16 && !sh->master_paused && w->fd >= 0; i++) {
    ssize_t n = read(w->fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      return;
    if (n <= 0) {
      /* EIO: no process has the terminal open any more. Level-triggered HUP would spin. */
      watch_del(r, w);
      if (sh->settle_deadline != 0)
        shell_finish_death(r);
      return;
    }
    switch (sh->state) {
    case SHELL_STARTING:
      if (scan(r, buf, (size_t)n, false, &hit) == SCAN_DONE) {
        sh->state = SHELL_IDLE;
        exec_shell_ready(r);
      }
      break;
    case SHELL_BUSY:
      if (scan(r, buf, (size_t)n, true, &hit) == SCAN_DONE) {
        sh->state = SHELL_IDLE;
        exec_complete(r, hit.status, hit.cwd, hit.cwd_len);
      }
      break;
    case SHELL_DOWN:
      /* Died mid-exec, settling: its last output still counts, and if the marker made it out
       * before the death, the command itself completed. */
      if (r->exec != NULL && scan(r, buf, (size_t)n, true, &hit) == SCAN_DONE)
        exec_complete(r, hit.status, hit.cwd, hit.cwd_len);
      break;
    default:
      break; /* idle: background jobs writing between execs; nobody asked */
    }
  }
}

void shell_on_exit(struct runner *r, int status) {
  struct shell *sh = &r->shell;
  sh->pid = 0;
  sh->exit_status = status;
  switch (sh->state) {
  case SHELL_STARTING: {
    char why[64];
    if (sh->start_timed_out)
      snprintf(why, sizeof why, "was not ready within %d ms", START_TIMEOUT_MS);
    else if (WIFSIGNALED(status))
      snprintf(why, sizeof why, "was killed by %s during startup", signal_name(WTERMSIG(status)));
    else
      snprintf(why, sizeof why, "exited with status %d during startup", WEXITSTATUS(status));
    snprintf(sh->fail_msg, sizeof sh->fail_msg, "the shell `%.128s` %s", r->opts.shell, why);
    sh->start_timed_out = false;
    sh->state = SHELL_FAILED;
    pty_close(r);
    exec_shell_failed(r, sh->fail_msg);
    break;
  }
  case SHELL_BUSY:
    sh->state = SHELL_DOWN;
    sh->settle_deadline = now_ns() + MS_NS(SETTLE_MS);
    if (sh->master_w.fd < 0) /* the PTY already said EIO */
      shell_finish_death(r);
    break;
  case SHELL_FAILED:
    pty_close(r);
    break;
  default:
    sh->state = SHELL_DOWN;
    pty_close(r);
    shell_restart(r);
    break;
  }
}

uint64_t shell_next_deadline(struct runner *r) {
  struct shell *sh = &r->shell;
  if (sh->settle_deadline != 0)
    return sh->settle_deadline;
  if (sh->state == SHELL_STARTING)
    return sh->start_deadline;
  return 0;
}

void shell_timers(struct runner *r, uint64_t now) {
  struct shell *sh = &r->shell;
  if (sh->settle_deadline != 0 && now >= sh->settle_deadline) {
    shell_finish_death(r);
  } else if (sh->state == SHELL_STARTING && now >= sh->start_deadline && !sh->start_timed_out) {
    sh->start_timed_out = true;
    shell_kill(r); /* shell_on_exit reports it */
  }
}
