/* create/run, parent side: parse and compile everything first, then clone the container
 * process, map ids, setup_cgroups, wait for "ready", record the state. Anything that fails
 * before the state is recorded is undone (process killed, cgroup and state dir removed). */
#include "container.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include "caps.h"
#include "config.h"
#include "linux.h"
#include "resources.h"
#include "seccomp.h"
#include "sync.h"
#include "util.h"

pid_t clone_pidfd(unsigned long flags, int *pidfd, sk_error_t *err) {
  struct clone_args args = {.flags = flags | CLONE_PIDFD, .pidfd = (uint64_t)(uintptr_t)pidfd, .exit_signal = SIGCHLD};
  pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0 && errno == ENOSYS)
    pid = (pid_t)syscall(SYS_clone, flags | CLONE_PIDFD | SIGCHLD, NULL, pidfd, NULL, 0);
  if (pid < 0)
    return sk_error_errno(err, "setup_namespaces: clone");
  return pid;
}

/* Undoes a half-made container when create fails; disarmed once the state is recorded. */
typedef struct create_guard {
  bool armed;
  char dir[PATH_MAX];
  pid_t pid;
  int pidfd;
  bool cgroup_touched;
  sk_cgroup_t cg;
} create_guard_t;

static void create_guard_release(create_guard_t *gd) {
  if (!gd->armed)
    return;
  sk_error_t ignored;
  if (gd->pidfd >= 0)
    syscall(SYS_pidfd_send_signal, gd->pidfd, SIGKILL, NULL, 0);
  if (gd->pid > 0)
    while (waitpid(gd->pid, NULL, 0) < 0 && errno == EINTR)
      ;
  if (gd->cgroup_touched)
    cgroup_destroy(&gd->cg, &ignored);
  if (gd->dir[0] != '\0')
    remove_tree(gd->dir, &ignored);
}

static void now_rfc3339(char *buf, size_t size) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, size - n, ".%09ldZ", ts.tv_nsec);
}

static int write_id_map(pid_t pid, const char *file, const sk_id_map_t *m, size_t n, sk_error_t *err) {
  char buf[4096], path[64];
  size_t len = 0;
  for (size_t i = 0; i < n && len < sizeof buf - 40; i++)
    len += (size_t)snprintf(buf + len, sizeof buf - len, "%u %u %u\n", m[i].container_id, m[i].host_id, m[i].size);
  snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
  if (write_file_at(AT_FDCWD, path, buf, len, err) < 0)
    return sk_error_wrap(err, "setup_namespaces: write %s", file);
  return 0;
}

/* A send to a child that already failed: its error message is the real story. */
static int parent_send(int fd, sk_sync_type_t type, sk_error_t *err) {
  if (sync_send(fd, type, 0, err) == 0)
    return 0;
  sync_expect(fd, SK_SYNC_READY, "create", NULL, err);
  return -1;
}

/* Adds how the child ended when it died without telling us why. */
static void explain_exit(create_guard_t *gd, sk_error_t *err) {
  if (err->errno_ != 0 || strstr(err->msg, "exited unexpectedly") == NULL || gd->pid <= 0)
    return;
  int status;
  if (waitpid(gd->pid, &status, 0) != gd->pid)
    return;
  gd->pid = 0;
  size_t n = strlen(err->msg);
  if (WIFSIGNALED(status))
    snprintf(err->msg + n, sizeof err->msg - n, " (killed by signal %d)", WTERMSIG(status));
  else if (WIFEXITED(status))
    snprintf(err->msg + n, sizeof err->msg - n, " (exit status %d)", WEXITSTATUS(status));
}

typedef struct create_run {
  const sk_global_opts_t *g;
  const sk_create_opts_t *o;
  sk_config_t cfg;
  struct sock_fprog prog;
  sk_init_ctx_t ctx;
  int sync[2];
  int lock_fd;          /* flock on the state dir while we create: delete/start wait for us */
  create_guard_t gd;
  char bundle[PATH_MAX];
} create_run_t;

static int prepare(create_run_t *r, sk_error_t *err) {
  if (realpath(r->o->bundle, r->bundle) == NULL)
    return sk_error_errno(err, "bundle `%s`", r->o->bundle);
  if (config_load(r->bundle, &r->cfg, err) < 0)
    return -1;
  if (r->cfg.has_seccomp && seccomp_compile(&r->cfg.seccomp, &r->prog, err) < 0)
    return sk_error_wrap(err, "linux.seccomp");
  r->ctx.last_cap = cap_last_cap(err);
  if (r->ctx.last_cap < 0)
    return -1;
  r->gd.cg.mode = 0;
  if (cgroup_detect(&r->gd.cg.mode, err) < 0)
    return sk_error_wrap(err, "setup_cgroups");
  const char *cgp = r->cfg.cgroups_path;
  if ((size_t)snprintf(r->gd.cg.path, sizeof r->gd.cg.path, cgp ? "%s" : "/sandkasten/%s", cgp ? cgp : r->o->id) >= sizeof r->gd.cg.path)
    return sk_error_set(err, ENAMETOOLONG, "cgroup path too long");
  return 0;
}

static int make_state_dir(create_run_t *r, sk_error_t *err) {
  if (mkdir_p(r->g->root, 0700, err) < 0)
    return sk_error_wrap(err, "state root");
  char dir[PATH_MAX];
  if ((size_t)snprintf(dir, sizeof dir, "%s/%s", r->g->root, r->o->id) >= sizeof dir)
    return sk_error_set(err, ENAMETOOLONG, "state directory path too long");
  if (mkdir(dir, 0700) < 0)
    return errno == EEXIST ? sk_error_set(err, EEXIST, "container `%s` already exists", r->o->id) : sk_error_errno(err, "mkdir `%s`", dir);
  memcpy(r->gd.dir, dir, sizeof dir);
  r->lock_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (r->lock_fd < 0 || flock(r->lock_fd, LOCK_EX) < 0)
    return sk_error_errno(err, "lock `%s`", dir);
  if (r->o->start_now)
    return 0;
  cleanup_free char *fifo = xasprintf("%s/exec.fifo", dir);
  if (mkfifo(fifo, 0600) < 0)
    return sk_error_errno(err, "mkfifo `%s`", fifo);
  /* Read-write, so opening never blocks and the fifo always has a reader while we live. */
  r->ctx.fifo_fd = open(fifo, O_RDWR | O_CLOEXEC);
  if (r->ctx.fifo_fd < 0)
    return sk_error_errno(err, "open `%s`", fifo);
  return 0;
}

static int spawn(create_run_t *r, sk_error_t *err) {
  if (sync_pair(r->sync, err) < 0)
    return -1;
  r->ctx.cfg = &r->cfg;
  r->ctx.proc = &r->cfg.process;
  r->ctx.sync_fd = r->sync[1];
  r->ctx.rootfd = r->ctx.devnull_fd = -1;
  r->ctx.cgroup_mode = r->gd.cg.mode;
  r->ctx.seccomp = r->cfg.has_seccomp ? &r->prog : NULL;
  /* A pid namespace is entered for children only, so it is joined here, before clone. */
  if (join_namespaces(&r->cfg, CLONE_NEWPID, err) < 0)
    return -1;
  /* The cgroup namespace is unshared by the child once it is inside its cgroup. */
  pid_t pid = clone_pidfd((unsigned long)r->cfg.clone_flags & ~(unsigned long)CLONE_NEWCGROUP, &r->gd.pidfd, err);
  if (pid < 0)
    return -1;
  if (pid == 0) {
    close(r->sync[0]);
    close(r->lock_fd); /* the lock is the parent's; a copy here would hold it until exec */
    container_init(&r->ctx);
  }
  r->gd.pid = pid;
  close(r->sync[1]);
  r->sync[1] = -1;
  if (r->ctx.fifo_fd >= 0)
    close(r->ctx.fifo_fd);
  r->ctx.fifo_fd = -1;
  return 0;
}

static int setup_from_parent(create_run_t *r, sk_error_t *err) {
  const sk_config_t *cfg = &r->cfg;
  pid_t pid = r->gd.pid;
  if (cfg->clone_flags & CLONE_NEWUSER) {
    if (write_id_map(pid, "uid_map", cfg->uid_mappings, cfg->n_uid_mappings, err) < 0 ||
        write_id_map(pid, "gid_map", cfg->gid_mappings, cfg->n_gid_mappings, err) < 0 || parent_send(r->sync[0], SK_SYNC_MAPS_DONE, err) < 0)
      return -1;
  }
  /* setup_cgroups: for the child's pid, while it sets up its filesystem. */
  r->gd.cgroup_touched = true;
  static const sk_resources_t none;
  if (cgroup_create(&r->gd.cg, cfg->has_resources ? &cfg->resources : &none, pid, err) < 0)
    return sk_error_wrap(err, "setup_cgroups");
  if (cfg->process.has_oom_score_adj) {
    char path[64], val[16];
    snprintf(path, sizeof path, "/proc/%d/oom_score_adj", (int)pid);
    int n = snprintf(val, sizeof val, "%d", cfg->process.oom_score_adj);
    if (write_file_at(AT_FDCWD, path, val, (size_t)n, err) < 0)
      return sk_error_wrap(err, "process.oomScoreAdj");
  }
  if (parent_send(r->sync[0], SK_SYNC_CGROUP_DONE, err) < 0)
    return -1;
  return sync_expect(r->sync[0], SK_SYNC_READY, "create", NULL, err);
}

/* The state is saved twice: without a pid before clone, so that a create killed half-way still
 * names its cgroup for `delete --force`, and complete once the process is ready. */
static int init_state(create_run_t *r, sk_state_t *st, sk_error_t *err) {
  memset(st, 0, sizeof *st);
  snprintf(st->id, sizeof st->id, "%s", r->o->id);
  memcpy(st->dir, r->gd.dir, sizeof st->dir);
  memcpy(st->bundle, r->bundle, sizeof st->bundle);
  st->has_cgroup = true;
  st->cgroup = r->gd.cg;
  now_rfc3339(st->created, sizeof st->created);
  st->annotations = xcalloc(r->cfg.n_annotations, sizeof(sk_annotation_t));
  for (size_t i = 0; i < r->cfg.n_annotations; i++, st->n_annotations++) {
    st->annotations[i].key = xstrdup(r->cfg.annotations[i].key);
    st->annotations[i].value = xstrdup(r->cfg.annotations[i].value);
  }
  st->status = SK_STATUS_CREATING;
  return state_save(st, err);
}

static int record_state(create_run_t *r, sk_state_t *st, sk_error_t *err) {
  st->pid = r->gd.pid;
  if (state_proc_start_time(st->pid, &st->start_time, NULL) < 0)
    return sk_error_errno(err, "read the start time of pid %d", (int)st->pid);
  st->status = r->o->start_now ? SK_STATUS_RUNNING : SK_STATUS_CREATED;
  if (state_save(st, err) < 0)
    return -1;
  if (r->o->pid_file != NULL) {
    char buf[16];
    int n = snprintf(buf, sizeof buf, "%d", (int)st->pid);
    if (write_file_atomic(r->o->pid_file, buf, (size_t)n, 0644, err) < 0)
      return sk_error_wrap(err, "--pid-file");
  }
  return 0;
}

/* run: learn whether execve worked (the socket closes on exec). */
static int start_now(create_run_t *r, sk_error_t *err) {
  return sync_wait_exec(r->sync[0], err);
}

static void create_run_free(create_run_t *r) {
  create_guard_release(&r->gd);
  closep(&r->lock_fd);
  if (r->sync[0] >= 0)
    close(r->sync[0]);
  if (r->sync[1] >= 0)
    close(r->sync[1]);
  if (r->ctx.fifo_fd >= 0)
    close(r->ctx.fifo_fd);
  free(r->prog.filter);
  config_free(&r->cfg);
}

int container_create(const sk_global_opts_t *g, const sk_create_opts_t *o, sk_container_t *c, sk_error_t *err) {
  _cleanup_(create_run_free) create_run_t r = {.g = g, .o = o, .sync = {-1, -1}, .lock_fd = -1, .ctx = {.fifo_fd = -1}, .gd = {.pidfd = -1}};
  memset(&c->state, 0, sizeof c->state);
  c->pidfd = -1;
  if (state_check_id(o->id, err) < 0 || prepare(&r, err) < 0)
    return -1;
  r.gd.armed = true;
  if (make_state_dir(&r, err) < 0 || init_state(&r, &c->state, err) < 0 || spawn(&r, err) < 0) {
    state_free(&c->state);
    return -1;
  }
  if (setup_from_parent(&r, err) < 0) {
    explain_exit(&r.gd, err);
    state_free(&c->state);
    return -1;
  }
  if (record_state(&r, &c->state, err) < 0 || (o->start_now && start_now(&r, err) < 0)) {
    state_free(&c->state);
    return -1;
  }
  r.gd.armed = false;
  c->pidfd = steal_fd(&r.gd.pidfd);
  return 0;
}

void container_close(sk_container_t *c) {
  if (c->pidfd >= 0)
    close(c->pidfd);
  c->pidfd = -1;
  state_free(&c->state);
}
