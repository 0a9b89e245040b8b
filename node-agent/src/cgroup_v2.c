/* cgroups v2: one unified hierarchy, rooted at /sys/fs/cgroup or at $SK_CGROUP_ROOT_V2.
 *
 * Controllers must be enabled top-down: every ancestor's cgroup.subtree_control lists what its
 * children may use. We enable memory, cpu and pids wherever available (for accounting and OOM
 * events); a limit whose controller is not available is an error naming it.
 *
 * memory.oom.group stays 0 on purpose: with it, one OOM kill takes every process of the
 * sandbox, the runner (PID 1) and its persistent shell included. Without it the kernel kills the
 * task with the largest footprint — normally the memory hog — and the session survives. */
#include "cgroup_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

static const char *const CONTROLLERS[] = {"memory", "cpu", "pids"};
enum { C_MEMORY = 1, C_CPU = 2, C_PIDS = 4 };

static char *leaf_dir(const sk_cgroup_t *cg) { return xasprintf("%s%s", cg_v2_root(), cg->path); }

static unsigned needed_controllers(const sk_resources_t *res) {
  unsigned need = 0;
  if ((res->has_memory_limit && res->memory_limit != 0) || (res->has_memory_swap && res->memory_swap != 0))
    need |= C_MEMORY;
  if (res->has_cpu_quota || res->has_cpu_period || (res->has_cpu_shares && res->cpu_shares != 0))
    need |= C_CPU;
  if (res->has_pids_limit)
    need |= C_PIDS;
  return need;
}

/* ---- controllers --------------------------------------------------------------------------- */

/* Makes the controllers usable by dir's children: a needed one missing is an error; the others
 * are enabled when the kernel lets us. */
static int enable_in(const char *dir, unsigned need, sk_error_t *err) {
  cleanup_free char *avail = NULL, *enabled = NULL;
  if (cg_read(dir, "cgroup.controllers", &avail, err) < 0 || cg_read(dir, "cgroup.subtree_control", &enabled, err) < 0)
    return -1;
  for (size_t i = 0; i < SK_ARRAY_SIZE(CONTROLLERS); i++) {
    const char *c = CONTROLLERS[i];
    bool needed = need & (1u << i);
    if (!cg_has_word(avail, c)) {
      if (needed)
        return sk_error_set(err, 0, "cgroup: the v2 controller `%s` is not available in `%s` (cgroup.controllers: `%s`), and a %s limit needs it",
                            c, dir, avail, c);
      continue;
    }
    if (cg_has_word(enabled, c))
      continue;
    char op[32];
    snprintf(op, sizeof op, "+%s", c);
    sk_error_t e;
    if (cg_write(dir, "cgroup.subtree_control", op, &e) < 0 && needed) {
      *err = e;
      return -1;
    }
  }
  return 0;
}

/* Walks from the root down to the leaf's parent, creating missing intermediate cgroups and
 * enabling controllers in each. */
static int prepare_ancestors(const sk_cgroup_t *cg, unsigned need, sk_error_t *err) {
  cleanup_free char *dir = xstrdup(cg_v2_root());
  const char *p = cg->path;
  for (;;) {
    if (enable_in(dir, need, err) < 0)
      return -1;
    p += strspn(p, "/");
    size_t len = strcspn(p, "/");
    if (p[len] == '\0' || p[len + strspn(p + len, "/")] == '\0')
      return 0; /* the next component is the leaf */
    char *next = xasprintf("%s/%.*s", dir, (int)len, p);
    free(dir);
    dir = next;
    bool created;
    if (cg_mkdir(dir, &created, err) < 0)
      return -1;
    p += len;
  }
}

/* ---- limits -------------------------------------------------------------------------------- */

static int write_i64(const char *dir, const char *file, int64_t v, sk_error_t *err) {
  char buf[32];
  snprintf(buf, sizeof buf, "%lld", (long long)v);
  return cg_write(dir, file, buf, err);
}

/* memory.max in bytes, -1 for "max". */
static int read_memory_max(const char *dir, int64_t *v, sk_error_t *err) {
  cleanup_free char *text = NULL;
  if (cg_read(dir, "memory.max", &text, err) < 0)
    return -1;
  long long x;
  if (strcmp(text, "max") == 0)
    x = -1;
  else if (!parse_int64(text, &x))
    return sk_error_set(err, 0, "cgroup: `%s/memory.max` holds `%s`", dir, text);
  *v = x;
  return 0;
}

/* The runtime-spec's swap is memory+swap (the v1 memsw); v2's memory.swap.max is swap alone. */
static int set_swap(const char *dir, const sk_resources_t *res, sk_error_t *err) {
  int64_t mem = res->memory_limit;
  if (!(res->has_memory_limit && mem != 0) && read_memory_max(dir, &mem, err) < 0)
    return -1;
  char value[32];
  if (res->memory_swap == -1)
    snprintf(value, sizeof value, "max");
  else if (mem == -1)
    return sk_error_set(err, 0, "cgroup: a memory+swap limit needs a memory limit");
  else if (res->memory_swap < mem)
    return sk_error_set(err, 0, "cgroup: memory+swap limit %lld is below the memory limit %lld", (long long)res->memory_swap,
                        (long long)mem);
  else
    snprintf(value, sizeof value, "%lld", (long long)(res->memory_swap - mem));
  if (!cg_has_file(dir, "memory.swap.max")) {
    if (strcmp(value, "max") == 0)
      return 0; /* no swap accounting: nothing to lift */
    return sk_error_set(err, 0, "cgroup: a memory+swap limit needs swap accounting, and `%s/memory.swap.max` is missing", dir);
  }
  return cg_write(dir, "memory.swap.max", value, err);
}

static int set_memory(const char *dir, const sk_resources_t *res, sk_error_t *err) {
  /* A memory limit of 0 means "not set", as in runc. */
  if (res->has_memory_limit && res->memory_limit != 0) {
    char buf[32];
    cg_format_max(res->memory_limit, false, buf);
    if (cg_write(dir, "memory.max", buf, err) < 0)
      return -1;
  }
  if (res->has_memory_swap && res->memory_swap != 0)
    return set_swap(dir, res, err);
  return 0;
}

/* cpu.max is "QUOTA PERIOD"; a part not being changed keeps its current value. */
static int set_cpu_max(const char *dir, const sk_resources_t *res, sk_error_t *err) {
  cleanup_free char *cur = NULL;
  if (cg_read(dir, "cpu.max", &cur, err) < 0)
    return -1;
  char quota[32] = "max";
  unsigned long long period = 100000;
  if (sscanf(cur, "%31s %llu", quota, &period) != 2)
    return sk_error_set(err, 0, "cgroup: `%s/cpu.max` holds `%s`", dir, cur);
  if (res->has_cpu_quota)
    cg_format_max(res->cpu_quota, false, quota);
  if (res->has_cpu_period)
    period = res->cpu_period;
  char value[64];
  snprintf(value, sizeof value, "%s %llu", quota, period);
  return cg_write(dir, "cpu.max", value, err);
}

static int set_cpu(const char *dir, const sk_resources_t *res, sk_error_t *err) {
  if (res->has_cpu_shares && res->cpu_shares != 0) {
    /* v1 shares [2, 262144] onto v2 weight [1, 10000], the conversion runc and crun use. */
    uint64_t shares = res->cpu_shares < 2 ? 2 : res->cpu_shares > 262144 ? 262144 : res->cpu_shares;
    if (write_i64(dir, "cpu.weight", (int64_t)(1 + ((shares - 2) * 9999) / 262142), err) < 0)
      return -1;
  }
  if (res->has_cpu_quota || res->has_cpu_period)
    return set_cpu_max(dir, res, err);
  return 0;
}

static int set_limits(const char *dir, const sk_resources_t *res, sk_error_t *err) {
  unsigned need = needed_controllers(res);
  if ((need & C_MEMORY) && set_memory(dir, res, err) < 0)
    return -1;
  if ((need & C_CPU) && set_cpu(dir, res, err) < 0)
    return -1;
  if (need & C_PIDS) {
    char buf[32];
    cg_format_max(res->pids_limit, true, buf);
    return cg_write(dir, "pids.max", buf, err);
  }
  return 0;
}

/* The leaf itself may lack a controller the parent offers only if it was created before the
 * controller was enabled: say which, rather than "no such file". */
static int check_leaf_has(const char *dir, unsigned need, sk_error_t *err) {
  cleanup_free char *avail = NULL;
  if (cg_read(dir, "cgroup.controllers", &avail, err) < 0)
    return -1;
  for (size_t i = 0; i < SK_ARRAY_SIZE(CONTROLLERS); i++)
    if ((need & (1u << i)) && !cg_has_word(avail, CONTROLLERS[i]))
      return sk_error_set(err, 0, "cgroup: the v2 controller `%s` is not enabled for `%s` (cgroup.controllers: `%s`)", CONTROLLERS[i],
                          dir, avail);
  return 0;
}

/* ---- create / update ----------------------------------------------------------------------- */

int cgroup_v2_create(const sk_cgroup_t *cg, const sk_resources_t *res, pid_t pid, sk_error_t *err) {
  unsigned need = needed_controllers(res);
  if (prepare_ancestors(cg, need, err) < 0)
    return -1;
  cleanup_free char *dir = leaf_dir(cg);
  bool created;
  if (cg_mkdir(dir, &created, err) < 0)
    return -1;
  /* Limits first, so the process never runs unlimited. */
  if (check_leaf_has(dir, need, err) < 0 || set_limits(dir, res, err) < 0) {
    if (created)
      (void)rmdir(dir);
    return -1;
  }
  if (pid <= 0)
    return 0;
  char buf[32];
  snprintf(buf, sizeof buf, "%d", (int)pid);
  return cg_write(dir, "cgroup.procs", buf, err);
}

int cgroup_v2_update(const sk_cgroup_t *cg, const sk_resources_t *res, sk_error_t *err) {
  cleanup_free char *dir = leaf_dir(cg);
  if (!cg_dir_exists(dir))
    return sk_error_set(err, ENOENT, "cgroup: `%s` does not exist", dir);
  unsigned need = needed_controllers(res);
  /* The parent may not offer a controller yet (the sandbox was created without that limit). */
  if (prepare_ancestors(cg, need, err) < 0 || check_leaf_has(dir, need, err) < 0)
    return -1;
  return set_limits(dir, res, err);
}

/* ---- kill / destroy ------------------------------------------------------------------------ */

static bool events_say(const char *dir, const char *key, long long want) {
  sk_error_t ignored;
  cleanup_free char *text = NULL;
  long long v;
  return cg_read(dir, "cgroup.events", &text, &ignored) == 0 && cg_key_value(text, key, &v) && v == want;
}

/* Freezes the subtree (Linux 5.2+) so nothing forks while we signal; *froze tells whether it
 * was us. A freeze that does not settle in time is not an error: the signals go out anyway. */
static int freeze(const char *dir, bool *froze, sk_error_t *err) {
  *froze = false;
  if (!cg_has_file(dir, "cgroup.freeze") || events_say(dir, "frozen", 1))
    return 0;
  if (cg_write(dir, "cgroup.freeze", "1", err) < 0)
    return -1;
  *froze = true;
  long long deadline = cg_now_ms() + CG_FREEZE_TIMEOUT_MS;
  for (unsigned step = 0; !events_say(dir, "frozen", 1) && cg_now_ms() < deadline; cg_backoff(&step))
    ;
  return 0;
}

static int signal_all(const char *dir, int sig, sk_error_t *err) {
  if (sig == SIGKILL && cg_has_file(dir, "cgroup.kill"))
    return cg_write(dir, "cgroup.kill", "1", err);
  bool froze;
  if (freeze(dir, &froze, err) < 0)
    return -1;
  size_t count;
  int r = cg_signal_tree(dir, sig, &count, err);
  sk_error_t thaw_err;
  if (froze && cg_write(dir, "cgroup.freeze", "0", &thaw_err) < 0 && r == 0) {
    *err = thaw_err;
    r = -1;
  }
  return r;
}

int cgroup_v2_kill_all(const sk_cgroup_t *cg, int sig, sk_error_t *err) {
  cleanup_free char *dir = leaf_dir(cg);
  if (!cg_dir_exists(dir))
    return sk_error_set(err, ENOENT, "cgroup: `%s` does not exist", dir);
  return signal_all(dir, sig, err);
}

int cgroup_v2_destroy(const sk_cgroup_t *cg, sk_error_t *err) {
  cleanup_free char *dir = leaf_dir(cg);
  if (!cg_dir_exists(dir))
    return 0;
  long long deadline = cg_now_ms() + CG_EMPTY_TIMEOUT_MS;
  for (unsigned step = 0;; cg_backoff(&step)) {
    if (signal_all(dir, SIGKILL, err) < 0)
      return err->errno_ == ENOENT ? 0 : -1;
    /* populated covers the whole subtree */
    if (events_say(dir, "populated", 0) || !cg_dir_exists(dir))
      break;
    if (cg_now_ms() > deadline)
      return sk_error_set(err, EBUSY, "cgroup: processes still in `%s` %d ms after SIGKILL", dir, CG_EMPTY_TIMEOUT_MS);
  }
  return cg_rmdir_tree(dir, deadline, err);
}

/* ---- queries ------------------------------------------------------------------------------- */

static int cmp_pid(const void *a, const void *b) {
  pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
  return (x > y) - (x < y);
}

int cgroup_v2_pids(const sk_cgroup_t *cg, pid_t **pids, size_t *n, sk_error_t *err) {
  cleanup_free char *dir = leaf_dir(cg);
  if (!cg_dir_exists(dir))
    return sk_error_set(err, ENOENT, "cgroup: `%s` does not exist", dir);
  if (cg_collect_pids(dir, pids, n, err) < 0)
    return -1;
  qsort(*pids, *n, sizeof **pids, cmp_pid);
  return 0;
}

int cgroup_v2_oom_kills(const sk_cgroup_t *cg, long long *kills, sk_error_t *err) {
  cleanup_free char *dir = leaf_dir(cg);
  if (!cg_dir_exists(dir))
    return sk_error_set(err, ENOENT, "cgroup: `%s` does not exist", dir);
  if (!cg_has_file(dir, "memory.events"))
    return 0; /* memory controller not enabled here: no memory cgroup OOM */
  cleanup_free char *text = NULL;
  if (cg_read(dir, "memory.events", &text, err) < 0)
    return -1;
  if (!cg_key_value(text, "oom_kill", kills))
    *kills = 0;
  return 0;
}
