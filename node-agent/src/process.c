/* The process tail shared by the container's init and `exec`: rlimits, umask, privileges, cwd,
 * executable lookup, then apply_seccomp and execve. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "caps.h"
#include "linux.h"
#include "seccomp.h"
#include "util.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

void reset_signals(void) {
  struct sigaction sa = {.sa_handler = SIG_DFL};
  for (int s = 1; s < NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP)
      sigaction(s, &sa, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

static int set_rlimits(const sk_process_t *p, sk_error_t *err) {
  for (size_t i = 0; i < p->n_rlimits; i++) {
    struct rlimit rl = {.rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard};
    if (setrlimit(p->rlimits[i].resource, &rl) < 0)
      return sk_error_errno(err, "setup_process: setrlimit process.rlimits[%zu] (%llu/%llu)", i,
                            (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
  }
  return 0;
}

int prepare_process(const sk_process_t *p, int last_cap, const struct sock_fprog *seccomp, bool *seccomp_loaded, sk_error_t *err) {
  /* Raising a hard limit needs CAP_SYS_RESOURCE, so rlimits go before the privileges. */
  if (set_rlimits(p, err) < 0)
    return -1;
  umask(p->has_umask ? p->umask : 0022);
  *seccomp_loaded = false;
  if (seccomp != NULL && !p->no_new_privileges) {
    if (seccomp_load(seccomp, err) < 0)
      return sk_error_wrap(err, "apply_seccomp");
    *seccomp_loaded = true;
  }
  if (drop_privileges(p, last_cap, err) < 0)
    return -1;
  /* As the final user, so a cwd it may not enter is reported now, not after start. */
  if (chdir(p->cwd) < 0)
    return sk_error_errno(err, "setup_process: chdir to process.cwd `%s`", p->cwd);
  return 0;
}

static bool is_executable(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int find_executable(const sk_process_t *p, char **out, sk_error_t *err) {
  const char *name = p->args[0];
  if (strchr(name, '/') != NULL) {
    if (!is_executable(name))
      return sk_error_errno(err, "exec: `%s`", name);
    *out = xstrdup(name);
    return 0;
  }
  const char *path = DEFAULT_PATH;
  for (size_t i = 0; p->env[i] != NULL; i++)
    if (strncmp(p->env[i], "PATH=", 5) == 0)
      path = p->env[i] + 5;
  for (const char *d = path;; d++) {
    size_t n = strcspn(d, ":");
    cleanup_free char *cand = n == 0 ? xasprintf("./%s", name) : xasprintf("%.*s/%s", (int)n, d, name);
    if (is_executable(cand)) {
      *out = steal_pointer(&cand);
      return 0;
    }
    d += n;
    if (*d == '\0')
      break;
  }
  return sk_error_set(err, ENOENT, "exec: `%s`: executable file not found in $PATH", name);
}

int exec_process(const sk_process_t *p, const char *path, const struct sock_fprog *seccomp, sk_error_t *err) {
  /* apply_seccomp: last, so nothing of ours runs under the filter. */
  if (seccomp != NULL && seccomp_load(seccomp, err) < 0)
    return sk_error_wrap(err, "apply_seccomp");
  execve(path, p->args, p->env);
  return sk_error_errno(err, "exec `%s`", path);
}
