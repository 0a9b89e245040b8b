/* cgroups v1, including hybrid hosts (v1 controllers plus a cgroup2 mount, usually at
 * /sys/fs/cgroup/unified). Hierarchies are found in /proc/self/mountinfo, never assumed: cpu and
 * cpuacct may be one mount ("cpu,cpuacct") or two.
 *
 * A sandbox gets a directory in every hierarchy it is accounted or controlled by:
 *   memory, cpu, cpuacct, pids  limits and accounting;
 *   freezer                     stops fork races while everything is killed;
 *   name=systemd and the hybrid cgroup2 mount (when present)
 *                               take the sandbox out of the caller's (service's) cgroup, so it
 *                               outlives a restart of the controller's unit; the cgroup2 one also
 *                               gives an atomic cgroup.kill.
 * Destroy removes every one of these directories. */
#include "cgroup_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

enum { C_MEMORY = 1, C_CPU = 2, C_CPUACCT = 4, C_PIDS = 8, C_FREEZER = 16, C_SYSTEMD = 32 };

static const struct {
  unsigned bit;
  const char *option; /* as in the mount's super options */
} CONTROLLERS[] = {
    {C_MEMORY, "memory"}, {C_CPU, "cpu"},         {C_CPUACCT, "cpuacct"},
    {C_PIDS, "pids"},     {C_FREEZER, "freezer"}, {C_SYSTEMD, "name=systemd"},
};

#define MAX_HIERARCHIES 8

typedef struct hierarchy {
  unsigned controllers; /* C_* this mount carries */
  char devid[32];       /* major:minor, the same for every mount of one hierarchy */
  char *dir;            /* mount point + cgroup path */
} hierarchy_t;

typedef struct layout {
  hierarchy_t h[MAX_HIERARCHIES];
  size_t n;
  char *unified; /* hybrid cgroup2 mount point + cgroup path; NULL without one */
} layout_t;

static void layout_free(layout_t *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->h[i].dir);
  free(l->unified);
}
#define cleanup_layout _cleanup_(layout_free)

/* ---- discovery ----------------------------------------------------------------------------- */

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s) {
  char *w = s;
  for (char *r = s; *r != '\0'; r++) {
    if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
      *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
      r += 3;
    } else {
      *w++ = *r;
    }
  }
  *w = '\0';
}

static unsigned controllers_of(const char *superopts) {
  unsigned bits = 0;
  cleanup_free char *copy = xstrdup(superopts);
  char *save = NULL;
  for (char *o = strtok_r(copy, ",", &save); o != NULL; o = strtok_r(NULL, ",", &save))
    for (size_t i = 0; i < SK_ARRAY_SIZE(CONTROLLERS); i++)
      if (strcmp(o, CONTROLLERS[i].option) == 0)
        bits |= CONTROLLERS[i].bit;
  return bits;
}

static void add_mount(layout_t *l, const char *devid, const char *mountpoint, const char *fstype, const char *superopts,
                      const char *path) {
  if (strcmp(fstype, "cgroup2") == 0) {
    if (l->unified == NULL)
      l->unified = xasprintf("%s%s", mountpoint, path);
    return;
  }
  if (strcmp(fstype, "cgroup") != 0)
    return;
  unsigned bits = controllers_of(superopts);
  if (bits == 0 || l->n == MAX_HIERARCHIES)
    return;
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->h[i].devid, devid) == 0)
      return; /* another mount of a hierarchy we have */
  hierarchy_t *h = &l->h[l->n++];
  h->controllers = bits;
  snprintf(h->devid, sizeof h->devid, "%s", devid);
  h->dir = xasprintf("%s%s", mountpoint, path);
}

/* One mountinfo line: "id parent major:minor root mountpoint opts [optional…] - fstype source superopts". */
static void parse_mountinfo_line(layout_t *l, char *line, const char *path) {
  char *fields[6] = {0}, *save = NULL, *f;
  size_t n = 0;
  while (n < 6 && (f = strtok_r(n == 0 ? line : NULL, " ", &save)) != NULL)
    fields[n++] = f;
  if (n < 6)
    return;
  while ((f = strtok_r(NULL, " ", &save)) != NULL && strcmp(f, "-") != 0)
    ;
  char *fstype = strtok_r(NULL, " ", &save);
  char *source = strtok_r(NULL, " ", &save);
  char *superopts = strtok_r(NULL, " ", &save);
  if (f == NULL || fstype == NULL || source == NULL || superopts == NULL)
    return;
  unescape_octal(fields[4]);
  add_mount(l, fields[2], fields[4], fstype, superopts, path);
}

static int discover(const char *path, layout_t *l, sk_error_t *err) {
  *l = (layout_t){0};
  cleanup_free char *text = NULL;
  if (read_file_at(AT_FDCWD, "/proc/self/mountinfo", 0, &text, NULL, err) < 0)
    return sk_error_wrap(err, "cgroup");
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
    parse_mountinfo_line(l, line, path);
  if (l->n == 0)
    return sk_error_set(err, 0, "cgroup: no cgroup v1 hierarchy is mounted");
  return 0;
}

static const char *dir_of(const layout_t *l, unsigned controller) {
  for (size_t i = 0; i < l->n; i++)
    if (l->h[i].controllers & controller)
      return l->h[i].dir;
  return NULL;
}

/* Every directory of the sandbox, v1 hierarchies then the hybrid cgroup2 one. */
static size_t all_dirs(const layout_t *l, const char **dirs) {
  size_t n = 0;
  for (size_t i = 0; i < l->n; i++)
    dirs[n++] = l->h[i].dir;
  if (l->unified != NULL)
    dirs[n++] = l->unified;
  return n;
}

/* ---- limits -------------------------------------------------------------------------------- */

static unsigned needed_controllers(const sk_resources_t *res) {
  unsigned need = 0;
  if (res->has_memory_limit || res->has_memory_swap)
    need |= C_MEMORY;
  if (res->has_cpu_quota || res->has_cpu_period || res->has_cpu_shares)
    need |= C_CPU;
  if (res->has_pids_limit)
    need |= C_PIDS;
  return need;
}

static int check_needed(const layout_t *l, unsigned need, sk_error_t *err) {
  for (size_t i = 0; i < SK_ARRAY_SIZE(CONTROLLERS); i++)
    if ((need & CONTROLLERS[i].bit) && dir_of(l, CONTROLLERS[i].bit) == NULL)
      return sk_error_set(err, 0, "cgroup: the v1 controller `%s` is not mounted, and a %s limit needs it", CONTROLLERS[i].option,
                          CONTROLLERS[i].option);
  return 0;
}

static int write_i64(const char *dir, const char *file, int64_t v, sk_error_t *err) {
  char buf[32];
  snprintf(buf, sizeof buf, "%lld", (long long)v);
  return cg_write(dir, file, buf, err);
}

static int read_i64(const char *dir, const char *file, int64_t *v, sk_error_t *err) {
  cleanup_free char *text = NULL;
  if (cg_read(dir, file, &text, err) < 0)
    return -1;
  long long x;
  if (!parse_int64(text, &x))
    return sk_error_set(err, 0, "cgroup: `%s/%s` holds `%s`, not a number", dir, file, text);
  *v = x;
  return 0;
}

#define MEMSW "memory.memsw.limit_in_bytes"

/* The kernel keeps memory.limit_in_bytes <= memory.memsw.limit_in_bytes at every step, so the
 * order of the two writes depends on whether the limits grow or shrink (as runc does). */
static int set_memory(const char *dir, const sk_resources_t *res, sk_error_t *err) {
  /* A memory limit of 0 means "not set", as in runc. */
  bool has_mem = res->has_memory_limit && res->memory_limit != 0, has_swap = res->has_memory_swap && res->memory_swap != 0;
  int64_t mem = res->memory_limit, swap = res->memory_swap;
  if (has_mem && mem == -1 && !has_swap)
    has_swap = true, swap = -1; /* unlimited memory means unlimited swap too */
  bool accounting = cg_has_file(dir, MEMSW);
  if (has_swap && !accounting) {
    if (swap != -1)
      return sk_error_set(err, 0, "cgroup: a memory+swap limit needs swap accounting, and `%s/" MEMSW "` is missing", dir);
    has_swap = false;
  }
  if (has_mem && !has_swap && accounting) {
    /* A new memory limit above the current memory+swap limit: raise that one with it (still no
     * swap allowed beyond what there was), instead of failing. */
    int64_t cur_sw;
    if (read_i64(dir, MEMSW, &cur_sw, err) < 0)
      return -1;
    if (mem == -1 || mem > cur_sw)
      has_swap = true, swap = mem;
  }
  if (has_mem && has_swap) {
    int64_t cur;
    if (read_i64(dir, "memory.limit_in_bytes", &cur, err) < 0)
      return -1;
    if (swap == -1 || cur < swap) {
      if (write_i64(dir, MEMSW, swap, err) < 0 || write_i64(dir, "memory.limit_in_bytes", mem, err) < 0)
        return -1;
    } else if (write_i64(dir, "memory.limit_in_bytes", mem, err) < 0 || write_i64(dir, MEMSW, swap, err) < 0) {
      return -1;
    }
    return 0;
  }
  if (has_mem)
    return write_i64(dir, "memory.limit_in_bytes", mem, err);
  if (has_swap)
    return write_i64(dir, MEMSW, swap, err);
  return 0;
}

static int set_cpu(const char *dir, const sk_resources_t *res, sk_error_t *err) {
  if (res->has_cpu_shares && res->cpu_shares != 0 && write_i64(dir, "cpu.shares", (int64_t)res->cpu_shares, err) < 0)
    return -1;
  if (res->has_cpu_period && write_i64(dir, "cpu.cfs_period_us", (int64_t)res->cpu_period, err) < 0)
    return -1;
  if (res->has_cpu_quota && write_i64(dir, "cpu.cfs_quota_us", res->cpu_quota, err) < 0)
    return -1;
  return 0;
}

static int set_limits(const layout_t *l, const sk_resources_t *res, sk_error_t *err) {
  unsigned need = needed_controllers(res);
  if ((need & C_MEMORY) && set_memory(dir_of(l, C_MEMORY), res, err) < 0)
    return -1;
  if ((need & C_CPU) && set_cpu(dir_of(l, C_CPU), res, err) < 0)
    return -1;
  if (need & C_PIDS) {
    char buf[32];
    cg_format_max(res->pids_limit, true, buf);
    if (cg_write(dir_of(l, C_PIDS), "pids.max", buf, err) < 0)
      return -1;
  }
  return 0;
}

/* ---- create / update ----------------------------------------------------------------------- */

static void undo_mkdirs(const char **dirs, const bool *created, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (created[i])
      (void)rmdir(dirs[i]);
}

static int make_dirs(const char **dirs, bool *created, size_t n, sk_error_t *err) {
  for (size_t i = 0; i < n; i++) {
    if (cg_mkdir(dirs[i], &created[i], err) < 0) {
      undo_mkdirs(dirs, created, i);
      return -1;
    }
  }
  return 0;
}

int cgroup_v1_create(const sk_cgroup_t *cg, const sk_resources_t *res, pid_t pid, sk_error_t *err) {
  cleanup_layout layout_t l;
  if (discover(cg->path, &l, err) < 0 || check_needed(&l, needed_controllers(res), err) < 0)
    return -1;
  const char *dirs[MAX_HIERARCHIES + 1];
  bool created[MAX_HIERARCHIES + 1] = {0};
  size_t n = all_dirs(&l, dirs);
  if (make_dirs(dirs, created, n, err) < 0)
    return -1;
  /* Limits first, so the process never runs unlimited; the OOM killer stays on (the default,
   * but a parent can hand down oom_kill_disable): a memory hog is killed, not the sandbox hung. */
  const char *mem = dir_of(&l, C_MEMORY);
  if (set_limits(&l, res, err) < 0 || (mem != NULL && cg_write(mem, "memory.oom_control", "0", err) < 0)) {
    undo_mkdirs(dirs, created, n);
    return -1;
  }
  if (pid <= 0)
    return 0;
  char buf[32];
  snprintf(buf, sizeof buf, "%d", (int)pid);
  for (size_t i = 0; i < n; i++)
    if (cg_write(dirs[i], "cgroup.procs", buf, err) < 0)
      return -1;
  return 0;
}

int cgroup_v1_update(const sk_cgroup_t *cg, const sk_resources_t *res, sk_error_t *err) {
  cleanup_layout layout_t l;
  unsigned need = needed_controllers(res);
  if (discover(cg->path, &l, err) < 0 || check_needed(&l, need, err) < 0)
    return -1;
  for (size_t i = 0; i < l.n; i++)
    if ((l.h[i].controllers & need) && !cg_dir_exists(l.h[i].dir))
      return sk_error_set(err, ENOENT, "cgroup: `%s` does not exist", l.h[i].dir);
  return set_limits(&l, res, err);
}

/* ---- kill / destroy ------------------------------------------------------------------------ */

static bool read_state_is(const char *dir, const char *want) {
  sk_error_t ignored;
  cleanup_free char *state = NULL;
  return cg_read(dir, "freezer.state", &state, &ignored) == 0 && strcmp(state, want) == 0;
}

/* Freezes the sandbox so that no process can fork while we signal; *froze tells whether it was
 * us (a sandbox that was already frozen stays so). A freeze that does not settle in time (a task
 * in uninterruptible sleep) is not an error: the signals go out anyway. */
static int freeze(const char *dir, bool *froze, sk_error_t *err) {
  *froze = false;
  if (dir == NULL || !cg_has_file(dir, "freezer.state") || read_state_is(dir, "FROZEN"))
    return 0;
  if (cg_write(dir, "freezer.state", "FROZEN", err) < 0)
    return -1;
  *froze = true;
  long long deadline = cg_now_ms() + CG_FREEZE_TIMEOUT_MS;
  for (unsigned step = 0; !read_state_is(dir, "FROZEN") && cg_now_ms() < deadline; cg_backoff(&step))
    ;
  return 0;
}

static int signal_all(const layout_t *l, int sig, sk_error_t *err) {
  /* The hybrid cgroup2 directory kills the whole subtree atomically (Linux 5.14+). */
  if (sig == SIGKILL && l->unified != NULL && cg_has_file(l->unified, "cgroup.kill") &&
      cg_write(l->unified, "cgroup.kill", "1", err) < 0 && err->errno_ != ENOENT)
    return -1;
  const char *fz = dir_of(l, C_FREEZER);
  bool froze;
  if (freeze(fz, &froze, err) < 0)
    return -1;
  const char *dirs[MAX_HIERARCHIES + 1];
  size_t n = all_dirs(l, dirs), count;
  int r = 0;
  for (size_t i = 0; i < n && r == 0; i++)
    r = cg_signal_tree(dirs[i], sig, &count, err);
  sk_error_t thaw_err;
  if (froze && cg_write(fz, "freezer.state", "THAWED", &thaw_err) < 0 && r == 0) {
    *err = thaw_err;
    r = -1;
  }
  return r;
}

static bool exists_anywhere(const layout_t *l) {
  const char *dirs[MAX_HIERARCHIES + 1];
  size_t n = all_dirs(l, dirs);
  for (size_t i = 0; i < n; i++)
    if (cg_dir_exists(dirs[i]))
      return true;
  return false;
}

int cgroup_v1_kill_all(const sk_cgroup_t *cg, int sig, sk_error_t *err) {
  cleanup_layout layout_t l;
  if (discover(cg->path, &l, err) < 0)
    return -1;
  if (!exists_anywhere(&l))
    return sk_error_set(err, ENOENT, "cgroup: `%s` does not exist", cg->path);
  return signal_all(&l, sig, err);
}

static int count_pids(const layout_t *l, size_t *count, sk_error_t *err) {
  const char *dirs[MAX_HIERARCHIES + 1];
  size_t n = all_dirs(l, dirs);
  *count = 0;
  for (size_t i = 0; i < n; i++) {
    cleanup_free pid_t *pids = NULL;
    size_t k = 0;
    if (cg_collect_pids(dirs[i], &pids, &k, err) < 0)
      return -1;
    *count += k;
  }
  return 0;
}

int cgroup_v1_destroy(const sk_cgroup_t *cg, sk_error_t *err) {
  cleanup_layout layout_t l;
  if (discover(cg->path, &l, err) < 0)
    return -1;
  if (!exists_anywhere(&l))
    return 0;
  long long deadline = cg_now_ms() + CG_EMPTY_TIMEOUT_MS;
  for (unsigned step = 0;; cg_backoff(&step)) {
    size_t left;
    if (signal_all(&l, SIGKILL, err) < 0 || count_pids(&l, &left, err) < 0)
      return -1;
    if (left == 0)
      break;
    if (cg_now_ms() > deadline)
      return sk_error_set(err, EBUSY, "cgroup: %zu processes still in `%s` %d ms after SIGKILL", left, cg->path,
                          CG_EMPTY_TIMEOUT_MS);
  }
  const char *dirs[MAX_HIERARCHIES + 1];
  size_t n = all_dirs(&l, dirs);
  for (size_t i = 0; i < n; i++)
    if (cg_rmdir_tree(dirs[i], deadline, err) < 0)
      return -1;
  return 0;
}

/* ---- queries ------------------------------------------------------------------------------- */

static int cmp_pid(const void *a, const void *b) {
  pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
  return (x > y) - (x < y);
}

int cgroup_v1_pids(const sk_cgroup_t *cg, pid_t **pids, size_t *n, sk_error_t *err) {
  cleanup_layout layout_t l;
  if (discover(cg->path, &l, err) < 0)
    return -1;
  if (!exists_anywhere(&l))
    return sk_error_set(err, ENOENT, "cgroup: `%s` does not exist", cg->path);
  const char *dirs[MAX_HIERARCHIES + 1];
  size_t nd = all_dirs(&l, dirs);
  for (size_t i = 0; i < nd; i++)
    if (cg_collect_pids(dirs[i], pids, n, err) < 0)
      return -1;
  /* Each process is in every hierarchy: keep one of each. */
  qsort(*pids, *n, sizeof **pids, cmp_pid);
  size_t w = 0;
  for (size_t i = 0; i < *n; i++)
    if (w == 0 || (*pids)[w - 1] != (*pids)[i])
      (*pids)[w++] = (*pids)[i];
  *n = w;
  return 0;
}

int cgroup_v1_oom_kills(const sk_cgroup_t *cg, long long *kills, sk_error_t *err) {
  cleanup_layout layout_t l;
  if (discover(cg->path, &l, err) < 0)
    return -1;
  const char *mem = dir_of(&l, C_MEMORY);
  if (mem == NULL)
    return 0; /* no memory controller, no memory cgroup OOM */
  cleanup_free char *text = NULL;
  if (cg_read(mem, "memory.oom_control", &text, err) < 0)
    return -1;
  if (!cg_key_value(text, "oom_kill", kills))
    *kills = 0; /* a kernel before 4.13 does not count */
  return 0;
}
