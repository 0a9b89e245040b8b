/* exec [options] ID [--] CMD... | exec --process FILE ID: runs a further process inside a
 * container: same namespaces and cgroup, the container's seccomp profile, and the user,
 * capabilities and environment of its config.json process unless overridden. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "caps.h"
#include "cmdutil.h"
#include "commands.h"
#include "config.h"
#include "container.h"
#include "linux.h"
#include "seccomp.h"
#include "state.h"
#include "sync.h"
#include "util.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define EXEC_USAGE "exec [--process FILE | -e K=V --cwd DIR --user UID[:GID]] [--detach] [--pid-file FILE] ID [--] CMD..."

typedef struct exec_opts {
  const char *process_file, *cwd, *user, *pid_file, *id;
  char **env_add;   /* NULL-terminated */
  char **caps_add;  /* NULL-terminated */
  bool detach, no_new_privs;
  char **args;      /* points into argv */
} exec_opts_t;

static void strv_push(char ***v, const char *s) {
  size_t n = strv_len(*v);
  *v = xrealloc(*v, (n + 2) * sizeof(char *));
  (*v)[n] = xstrdup(s);
  (*v)[n + 1] = NULL;
}

static int parse_opts(int argc, char **argv, exec_opts_t *o, sk_error_t *err) {
  static const struct option longopts[] = {
      {"process", required_argument, NULL, 'p'}, {"env", required_argument, NULL, 'e'},  {"cwd", required_argument, NULL, 'w'},
      {"user", required_argument, NULL, 'u'},    {"detach", no_argument, NULL, 'd'},     {"pid-file", required_argument, NULL, 'P'},
      {"tty", no_argument, NULL, 't'},           {"cap", required_argument, NULL, 'c'},  {"no-new-privs", no_argument, NULL, 'N'},
      {"console-socket", required_argument, NULL, 'C'}, {NULL, 0, NULL, 0},
  };
  for (int c; (c = cmd_getopt(argc, argv, "p:e:u:dtc:", longopts, err)) != -1;) {
    switch (c) {
    case 'p': o->process_file = optarg; break;
    case 'e': strv_push(&o->env_add, optarg); break;
    case 'w': o->cwd = optarg; break;
    case 'u': o->user = optarg; break;
    case 'd': o->detach = true; break;
    case 'P': o->pid_file = optarg; break;
    case 'c': strv_push(&o->caps_add, optarg); break;
    case 'N': o->no_new_privs = true; break;
    case 't':
    case 'C': return sk_error_set(err, EOPNOTSUPP, "exec: terminals are not supported (no --tty / --console-socket)");
    default: return -1;
    }
  }
  if (optind >= argc)
    return sk_error_set(err, EINVAL, "exec: missing container id (usage: %s)", EXEC_USAGE);
  o->id = argv[optind++];
  if (optind < argc && strcmp(argv[optind], "--") == 0)
    optind++;
  o->args = argv + optind;
  if ((optind < argc) == (o->process_file != NULL))
    return sk_error_set(err, EINVAL, "exec: give either a command or --process FILE (usage: %s)", EXEC_USAGE);
  return 0;
}

static int apply_user(sk_process_t *p, const char *user, sk_error_t *err) {
  long long uid, gid = -1;
  cleanup_free char *u = xstrdup(user);
  char *colon = strchr(u, ':');
  if (colon != NULL)
    *colon = '\0';
  if (!parse_int64(u, &uid) || uid < 0 || uid > UINT32_MAX || (colon && (!parse_int64(colon + 1, &gid) || gid < 0 || gid > UINT32_MAX)))
    return sk_error_set(err, EINVAL, "exec: --user `%s` must be UID[:GID] (numbers)", user);
  p->uid = (uid_t)uid;
  if (gid >= 0)
    p->gid = (gid_t)gid;
  return 0;
}

static void apply_env(sk_process_t *p, char **add) {
  for (size_t i = 0; add != NULL && add[i] != NULL; i++) {
    size_t klen = strcspn(add[i], "=");
    size_t n = strv_len(p->env), k = 0;
    while (k < n && !(strncmp(p->env[k], add[i], klen) == 0 && p->env[k][klen] == '='))
      k++;
    if (k == n) {
      strv_push(&p->env, add[i]);
    } else {
      free(p->env[k]);
      p->env[k] = xstrdup(add[i]);
    }
  }
}

/* The process: --process FILE, or config.json's with the command and overrides applied. */
static int build_process(const exec_opts_t *o, sk_config_t *cfg, sk_error_t *err) {
  sk_process_t *p = &cfg->process;
  if (o->process_file != NULL) {
    cleanup_free char *buf = NULL;
    size_t len;
    config_free_process(p);
    if (read_file_at(AT_FDCWD, o->process_file, 16u << 20, &buf, &len, err) < 0 || config_parse_process_json(buf, len, p, err) < 0)
      return sk_error_wrap(err, "exec --process");
    return 0;
  }
  strvfreep(&p->args);
  p->args = xcalloc(strv_len(o->args) + 1, sizeof(char *));
  for (size_t i = 0; o->args[i] != NULL; i++)
    p->args[i] = xstrdup(o->args[i]);
  apply_env(p, o->env_add);
  if (o->cwd != NULL) {
    if (o->cwd[0] != '/')
      return sk_error_set(err, EINVAL, "exec: --cwd must be absolute");
    free(p->cwd);
    p->cwd = xstrdup(o->cwd);
  }
  if (o->user != NULL && apply_user(p, o->user, err) < 0)
    return -1;
  for (size_t i = 0; o->caps_add != NULL && o->caps_add[i] != NULL; i++) {
    int c = cap_from_name(o->caps_add[i]);
    if (c < 0)
      return sk_error_set(err, EINVAL, "exec: --cap: unknown capability `%s`", o->caps_add[i]);
    if (c == cap_from_name("CAP_MKNOD"))
      return sk_error_set(err, EOPNOTSUPP, "exec: --cap CAP_MKNOD is not supported (no device cgroup)");
    p->caps.bounding |= 1ULL << c;
    p->caps.effective |= 1ULL << c;
    p->caps.permitted |= 1ULL << c;
    p->caps.inheritable |= 1ULL << c;
  }
  p->no_new_privileges |= o->no_new_privs;
  return 0;
}

typedef struct exec_run {
  exec_opts_t o;
  sk_state_t st;
  sk_config_t cfg;
  struct sock_fprog prog;
  int last_cap, ns_flags, container_pidfd, sync[2], pidfd;
  pid_t pid;
} exec_run_t;

static int exec_child_steps(exec_run_t *r, const struct sock_fprog *sc, bool *loaded, char **exe, sk_error_t *err) {
  if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
    return sk_error_errno(err, "close_range");
  if (sync_expect(r->sync[1], SK_SYNC_CGROUP_DONE, "exec", NULL, err) < 0)
    return -1;
  if (setns(r->container_pidfd, r->ns_flags & ~CLONE_NEWPID) < 0)
    return sk_error_errno(err, "exec: setns into the container's namespaces");
  if (r->o.detach && setsid() < 0)
    return sk_error_errno(err, "exec: setsid");
  if (prepare_process(&r->cfg.process, r->last_cap, sc, loaded, err) < 0)
    return -1;
  return find_executable(&r->cfg.process, exe, err);
}

/* The new process: joins the namespaces once the parent has put it in the cgroup. Never returns. */
__attribute__((noreturn)) static void exec_child(exec_run_t *r) {
  sk_error_t err = {0};
  bool loaded = false;
  cleanup_free char *exe = NULL;
  const struct sock_fprog *sc = r->cfg.has_seccomp ? &r->prog : NULL;
  close(r->sync[0]);
  if (exec_child_steps(r, sc, &loaded, &exe, &err) == 0) {
    reset_signals();
    exec_process(&r->cfg.process, exe, loaded ? NULL : sc, &err);
  }
  sync_send_error(r->sync[1], &err);
  _exit(127);
}

static int prepare(exec_run_t *r, const sk_global_opts_t *g, sk_error_t *err) {
  if (state_load(g->root, r->o.id, &r->st, err) < 0)
    return -1;
  if (r->st.status != SK_STATUS_CREATED && r->st.status != SK_STATUS_RUNNING)
    return sk_error_set(err, ESRCH, "exec: container `%s` is %s", r->o.id, state_status_name(r->st.status));
  if (config_load(r->st.bundle, &r->cfg, err) < 0 || build_process(&r->o, &r->cfg, err) < 0)
    return -1;
  if (r->cfg.has_seccomp && seccomp_compile(&r->cfg.seccomp, &r->prog, err) < 0)
    return sk_error_wrap(err, "linux.seccomp");
  if ((r->last_cap = cap_last_cap(err)) < 0)
    return -1;
  for (size_t i = 0; i < r->cfg.n_namespaces; i++)
    r->ns_flags |= r->cfg.namespaces[i].type;
  r->container_pidfd = open_container_pidfd(&r->st, err);
  return r->container_pidfd < 0 ? -1 : 0;
}

static int spawn(exec_run_t *r, sk_error_t *err) {
  /* Entering the pid namespace applies to children, so the parent joins it before cloning. */
  if ((r->ns_flags & CLONE_NEWPID) && setns(r->container_pidfd, CLONE_NEWPID) < 0)
    return sk_error_errno(err, "exec: join the container's pid namespace");
  if (sync_pair(r->sync, err) < 0)
    return -1;
  r->pid = clone_pidfd(0, &r->pidfd, err);
  if (r->pid < 0)
    return -1;
  if (r->pid == 0)
    exec_child(r);
  close(r->sync[1]);
  r->sync[1] = -1;
  static const sk_resources_t none;
  if (r->st.has_cgroup && cgroup_create(&r->st.cgroup, &none, r->pid, err) < 0)
    return sk_error_wrap(err, "exec: join the cgroup");
  if (sync_send(r->sync[0], SK_SYNC_CGROUP_DONE, 0, err) < 0)
    return -1;
  if (sync_wait_exec(r->sync[0], err) < 0)
    return -1;
  if (r->o.pid_file != NULL) {
    char buf[16];
    int n = snprintf(buf, sizeof buf, "%d", (int)r->pid);
    if (write_file_atomic(r->o.pid_file, buf, (size_t)n, 0644, err) < 0)
      return sk_error_wrap(err, "--pid-file");
  }
  return 0;
}

static void exec_run_free(exec_run_t *r) {
  strvfreep(&r->o.env_add);
  strvfreep(&r->o.caps_add);
  state_free(&r->st);
  config_free(&r->cfg);
  free(r->prog.filter);
  closep(&r->container_pidfd);
  closep(&r->sync[0]);
  closep(&r->sync[1]);
  closep(&r->pidfd);
}

int cmd_exec(int argc, char **argv, const sk_global_opts_t *g, sk_error_t *err) {
  _cleanup_(exec_run_free) exec_run_t r = {.container_pidfd = -1, .sync = {-1, -1}, .pidfd = -1};
  if (parse_opts(argc, argv, &r.o, err) < 0 || prepare(&r, g, err) < 0)
    return -1;
  if (spawn(&r, err) < 0) {
    if (r.pid > 0) {
      syscall(SYS_pidfd_send_signal, r.pidfd, SIGKILL, NULL, 0);
      waitpid(r.pid, NULL, 0);
    }
    return -1;
  }
  if (r.o.detach)
    return 0;
  int status = 0;
  if (wait_forwarding_signals(r.pid, r.pidfd, &status, err) < 0)
    return -1;
  return status;
}
