/* runner: PID 1 of every sandbox.
 *
 *   runner [--socket PATH] [--shell auto|PATH] [--output-cap BYTES] [--fs-root DIR]
 *          [--kill-grace-ms MS] [--stop-grace-ms MS] [--ready-fd FD]
 *
 * Parse the options, then set up in a fixed order — signals before any child exists, the
 * socket before the shell so the runner is ready in a few milliseconds — and serve until a
 * shutdown request or SIGTERM. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include "runner.h"

extern char **environ;

static const char usage[] =
    "usage: runner [--socket PATH] [--shell auto|PATH] [--output-cap BYTES] [--fs-root DIR]\n"
    "              [--kill-grace-ms MS] [--stop-grace-ms MS] [--ready-fd FD]\n"
    "  --socket PATH       unix socket to serve (default /run/sandkasten/runner.sock)\n"
    "  --shell SHELL       persistent shell: auto = /bin/bash if present, else /bin/sh\n"
    "  --output-cap BYTES  output kept per exec or run; the rest is dropped (default 5 MiB)\n"
    "  --fs-root DIR       root that file operations resolve in (default /)\n"
    "  --kill-grace-ms MS  exec timeout: SIGINT, then SIGKILL after MS (default 500)\n"
    "  --stop-grace-ms MS  shutdown: SIGTERM, then SIGKILL after MS (default 2000)\n"
    "  --ready-fd FD       write \"ready\\n\" to FD once serving, then close it\n";

static bool parse_u64(const char *s, uint64_t *out) {
  if (s == NULL || *s < '0' || *s > '9')
    return false;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0')
    return false;
  *out = v;
  return true;
}

static int parse_opts(int argc, char **argv, struct sk_opts *o, sk_error_t *err) {
  *o = (struct sk_opts){
      .socket_path = "/run/sandkasten/runner.sock",
      .shell = "auto",
      .fs_root = "/",
      .output_cap = 5u << 20,
      .kill_grace_ms = 500,
      .stop_grace_ms = 2000,
      .ready_fd = -1,
  };
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(usage, stdout);
      exit(0);
    }
    if (strcmp(a, "--version") == 0) {
      printf("runner %s (protocol %d)\n", SK_RUNNER_VERSION, SK_PROTOCOL_VERSION);
      exit(0);
    }
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    uint64_t n = 0;
    bool ok = v != NULL;
    if (strcmp(a, "--socket") == 0 && ok)
      o->socket_path = v;
    else if (strcmp(a, "--shell") == 0 && ok)
      o->shell = v;
    else if (strcmp(a, "--fs-root") == 0 && ok)
      o->fs_root = v;
    else if (strcmp(a, "--output-cap") == 0 && (ok = parse_u64(v, &n)))
      o->output_cap = n;
    else if (strcmp(a, "--kill-grace-ms") == 0 && (ok = parse_u64(v, &n)))
      o->kill_grace_ms = n;
    else if (strcmp(a, "--stop-grace-ms") == 0 && (ok = parse_u64(v, &n)))
      o->stop_grace_ms = n;
    else if (strcmp(a, "--ready-fd") == 0 && (ok = parse_u64(v, &n) && n <= 1 << 20))
      o->ready_fd = (int)n;
    else if (!ok)
      return sk_error_code(err, "BAD_REQUEST", "option %s needs a %s", a,
                           v == NULL ? "value" : "non-negative integer");
    else
      return sk_error_code(err, "BAD_REQUEST", "unknown option `%s` (see --help)", a);
    i++;
  }
  if (o->shell[0] != '/' && strcmp(o->shell, "auto") != 0)
    return sk_error_code(err, "BAD_REQUEST", "--shell must be `auto` or an absolute path, not `%s`", o->shell);
  return 0;
}

/* Pipes must never land on 0-2 (spawn dup2s onto them): keep them open. */
static int ensure_stdio(sk_error_t *err) {
  for (int fd = 0; fd < 3; fd++) {
    if (fcntl(fd, F_GETFD) >= 0)
      continue;
    int n = open("/dev/null", O_RDWR);
    if (n < 0)
      return sk_error_errno(err, "open /dev/null");
    if (n != fd)
      return sk_error_set(err, EBADF, "fd %d is closed and /dev/null did not take its place", fd);
  }
  return 0;
}

/* HOME from /etc/passwd (no NSS in a static binary), "/" if nobody knows. */
static char *home_for(uid_t uid) {
  cleanup_file_ FILE *f = fopen("/etc/passwd", "re");
  char line[1024];
  while (f != NULL && fgets(line, sizeof line, f) != NULL) {
    char *fields[7];
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, ":\n", &save); t && n < 7; t = strtok_r(NULL, ":\n", &save))
      fields[n++] = t;
    if (n >= 6 && strtoul(fields[2], NULL, 10) == uid)
      return xstrdup(fields[5]);
  }
  return xstrdup("/");
}

/* The sandbox's environment, plus defaults a non-interactive agent wants: no pagers waiting for
 * a key, no terminal escape sequences. Values already set are kept. */
static char **build_env(void) {
  size_t n = 0;
  while (environ[n])
    n++;
  char **env = xcalloc(n + 8, sizeof *env);
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    env[k++] = xstrdup(environ[i]);
  cleanup_free char *home = getenv("HOME") ? NULL : home_for(geteuid());
  struct {
    const char *name, *value;
  } defaults[] = {
      {"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
      {"HOME", home},
      {"TERM", "dumb"},
      {"PAGER", "cat"},
      {"GIT_PAGER", "cat"},
  };
  for (size_t i = 0; i < SK_ARRAY_SIZE(defaults); i++) {
    if (getenv(defaults[i].name) != NULL || defaults[i].value == NULL)
      continue;
    size_t len = strlen(defaults[i].name) + strlen(defaults[i].value) + 2;
    env[k] = xmalloc(len);
    snprintf(env[k++], len, "%s=%s", defaults[i].name, defaults[i].value);
  }
  return env;
}

static void signal_ready(struct runner *r) {
  int fd = r->opts.ready_fd;
  if (fd < 0)
    return;
  if (write_all(fd, "ready\n", 6) < 0)
    sk_log("warn", "--ready-fd %d: %s", fd, strerror(errno));
  close(fd);
}

static int setup(struct runner *r, sk_error_t *err) {
  if (ensure_stdio(err) < 0)
    return -1;
  r->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (r->epfd < 0)
    return sk_error_errno(err, "epoll_create1");
  /* Signals first: SIGCHLD must be caught from the first fork on. */
  if (reaper_setup(r, err) < 0)
    return sk_error_wrap(err, "signals");
  if (fs_init(r, err) < 0)
    return -1;
  if (shell_init(r, err) < 0)
    return sk_error_wrap(err, "shell");
  if (server_listen(r, err) < 0)
    return sk_error_wrap(err, "socket");
  signal_ready(r);
  /* A shell that cannot start is reported by each exec; files and runs still work. */
  sk_error_t shell_err;
  if (shell_start(r, &shell_err) < 0)
    sk_log("error", "%s", shell_err.msg);
  return 0;
}

int main(int argc, char **argv) {
  struct runner r = {.epfd = -1, .sigfd = -1, .listenfd = -1, .rootfd = -1, .reserve_fd = -1};
  sk_error_t err;
  r.start_ns = now_ns();
  if (parse_opts(argc, argv, &r.opts, &err) < 0) {
    sk_log("error", "%s", err.msg);
    fputs(usage, stderr);
    return 2;
  }
  r.env = build_env();
  if (setup(&r, &err) < 0 || server_run(&r, &err) < 0) {
    sk_log("error", "%s", err.msg);
    if (r.listenfd >= 0)
      unlink(r.opts.socket_path);
    return 1;
  }
  return 0;
}
