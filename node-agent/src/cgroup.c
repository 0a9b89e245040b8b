/* The cgroup interface (resources.h): detection of the host's mode, dispatch to the v1 or v2
 * implementation, and the file and directory helpers both share (cgroup_internal.h). */
#include "cgroup_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define CGROUP_MOUNT "/sys/fs/cgroup"

/* ---- detection and dispatch ---------------------------------------------------------------- */

const char *cg_v2_root(void) {
  const char *env = getenv("SK_CGROUP_ROOT_V2");
  return env != NULL && *env != '\0' ? env : CGROUP_MOUNT;
}

int cgroup_detect(sk_cgroup_mode_t *mode, sk_error_t *err) {
  struct statfs fs;
  const char *forced = getenv("SK_CGROUP_ROOT_V2");
  if (forced != NULL && *forced != '\0') {
    if (statfs(forced, &fs) < 0)
      return sk_error_errno(err, "cgroup: statfs `%s` (SK_CGROUP_ROOT_V2)", forced);
    if (fs.f_type != CGROUP2_SUPER_MAGIC)
      return sk_error_set(err, 0, "cgroup: SK_CGROUP_ROOT_V2=`%s` is not a cgroup2 mount", forced);
    *mode = SK_CGROUP_V2;
    return 0;
  }
  if (statfs(CGROUP_MOUNT, &fs) < 0)
    return sk_error_errno(err, "cgroup: statfs `%s`", CGROUP_MOUNT);
  if (fs.f_type == CGROUP2_SUPER_MAGIC)
    *mode = SK_CGROUP_V2;
  else if (fs.f_type == TMPFS_MAGIC)
    *mode = SK_CGROUP_V1; /* v1 controllers below it, perhaps with the hybrid `unified` */
  else
    return sk_error_set(err, 0, "cgroup: `%s` is neither cgroup2 nor a tmpfs of v1 hierarchies", CGROUP_MOUNT);
  return 0;
}

static int check(const sk_cgroup_t *cg, sk_error_t *err) {
  if (cg->mode != SK_CGROUP_V1 && cg->mode != SK_CGROUP_V2)
    return sk_error_set(err, 0, "cgroup: unknown mode %d", (int)cg->mode);
  return cg_check_path(cg->path, err);
}

int cgroup_create(const sk_cgroup_t *cg, const sk_resources_t *res, pid_t pid, sk_error_t *err) {
  static const sk_resources_t none;
  if (res == NULL)
    res = &none;
  if (check(cg, err) < 0 || cg_check_resources(res, err) < 0)
    return -1;
  return cg->mode == SK_CGROUP_V2 ? cgroup_v2_create(cg, res, pid, err) : cgroup_v1_create(cg, res, pid, err);
}

int cgroup_update(const sk_cgroup_t *cg, const sk_resources_t *res, sk_error_t *err) {
  if (check(cg, err) < 0 || cg_check_resources(res, err) < 0)
    return -1;
  return cg->mode == SK_CGROUP_V2 ? cgroup_v2_update(cg, res, err) : cgroup_v1_update(cg, res, err);
}

int cgroup_kill_all(const sk_cgroup_t *cg, int sig, sk_error_t *err) {
  if (check(cg, err) < 0)
    return -1;
  return cg->mode == SK_CGROUP_V2 ? cgroup_v2_kill_all(cg, sig, err) : cgroup_v1_kill_all(cg, sig, err);
}

int cgroup_destroy(const sk_cgroup_t *cg, sk_error_t *err) {
  if (check(cg, err) < 0)
    return -1;
  return cg->mode == SK_CGROUP_V2 ? cgroup_v2_destroy(cg, err) : cgroup_v1_destroy(cg, err);
}

int cgroup_pids(const sk_cgroup_t *cg, pid_t **pids, size_t *n, sk_error_t *err) {
  *pids = NULL;
  *n = 0;
  if (check(cg, err) < 0)
    return -1;
  return cg->mode == SK_CGROUP_V2 ? cgroup_v2_pids(cg, pids, n, err) : cgroup_v1_pids(cg, pids, n, err);
}

int cgroup_oom_kills(const sk_cgroup_t *cg, long long *kills, sk_error_t *err) {
  *kills = 0;
  if (check(cg, err) < 0)
    return -1;
  return cg->mode == SK_CGROUP_V2 ? cgroup_v2_oom_kills(cg, kills, err) : cgroup_v1_oom_kills(cg, kills, err);
}

int cgroup_oom_killed(const sk_cgroup_t *cg, bool *killed, sk_error_t *err) {
  long long kills = 0;
  int r = cgroup_oom_kills(cg, &kills, err);
  *killed = r == 0 && kills > 0;
  return r;
}

/* ---- validation ---------------------------------------------------------------------------- */

int cg_check_path(const char *path, sk_error_t *err) {
  if (path[0] != '/' || path[1] == '\0')
    return sk_error_set(err, 0, "cgroup: path `%s` must be absolute and below the root", path);
  for (const char *c = path; *c != '\0';) {
    while (*c == '/')
      c++;
    size_t len = strcspn(c, "/");
    if ((len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
      return sk_error_set(err, 0, "cgroup: path `%s` must not contain `.` or `..`", path);
    c += len;
  }
  return 0;
}

int cg_check_resources(const sk_resources_t *res, sk_error_t *err) {
  /* The kernel's bounds for CFS bandwidth (kernel/sched/core.c). */
  if (res->has_cpu_period && (res->cpu_period < 1000 || res->cpu_period > 1000000))
    return sk_error_set(err, 0, "cgroup: cpu period %llu µs is outside 1000..1000000", (unsigned long long)res->cpu_period);
  if (res->has_cpu_quota && res->cpu_quota != -1 && res->cpu_quota < 1000)
    return sk_error_set(err, 0, "cgroup: cpu quota %lld µs must be -1 (unlimited) or at least 1000", (long long)res->cpu_quota);
  if (res->has_memory_limit && res->memory_limit < -1)
    return sk_error_set(err, 0, "cgroup: memory limit %lld is invalid", (long long)res->memory_limit);
  if (res->has_memory_swap && res->memory_swap < -1)
    return sk_error_set(err, 0, "cgroup: memory+swap limit %lld is invalid", (long long)res->memory_swap);
  if (res->has_memory_limit && res->has_memory_swap && res->memory_swap != -1 &&
      (res->memory_limit == -1 || res->memory_swap < res->memory_limit))
    return sk_error_set(err, 0, "cgroup: memory+swap limit %lld must be at least the memory limit %lld", (long long)res->memory_swap,
                        (long long)res->memory_limit);
  if (res->has_pids_limit && res->pids_limit < -1)
    return sk_error_set(err, 0, "cgroup: pids limit %lld is invalid", (long long)res->pids_limit);
  return 0;
}

void cg_format_max(int64_t v, bool zero_is_max, char buf[32]) {
  if (v < 0 || (zero_is_max && v == 0))
    snprintf(buf, 32, "max");
  else
    snprintf(buf, 32, "%lld", (long long)v);
}

/* ---- files --------------------------------------------------------------------------------- */

int cg_write(const char *dir, const char *file, const char *value, sk_error_t *err) {
  cleanup_free char *path = xasprintf("%s/%s", dir, file);
  cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return sk_error_errno(err, "cgroup: open `%s`", path);
  /* One write: cgroup files take the whole value at once. */
  size_t len = strlen(value);
  ssize_t n;
  do
    n = write(fd, value, len);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return sk_error_errno(err, "cgroup: write `%s` to `%s`", value, path);
  if ((size_t)n != len)
    return sk_error_set(err, EIO, "cgroup: short write of `%s` to `%s`", value, path);
  return 0;
}

int cg_read(const char *dir, const char *file, char **out, sk_error_t *err) {
  cleanup_free char *path = xasprintf("%s/%s", dir, file);
  size_t len;
  if (read_file_at(AT_FDCWD, path, 1 << 20, out, &len, err) < 0)
    return sk_error_wrap(err, "cgroup");
  while (len > 0 && (*out)[len - 1] == '\n')
    (*out)[--len] = '\0';
  return 0;
}

bool cg_has_file(const char *dir, const char *file) {
  cleanup_free char *path = xasprintf("%s/%s", dir, file);
  return access(path, F_OK) == 0;
}

bool cg_dir_exists(const char *dir) {
  struct stat st;
  return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

bool cg_key_value(const char *text, const char *key, long long *value) {
  size_t klen = strlen(key);
  for (const char *line = text; line != NULL && *line != '\0';) {
    if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
      char *end;
      errno = 0;
      long long v = strtoll(line + klen + 1, &end, 10);
      if (errno == 0 && end != line + klen + 1) {
        *value = v;
        return true;
      }
    }
    line = strchr(line, '\n');
    if (line != NULL)
      line++;
  }
  return false;
}

bool cg_has_word(const char *list, const char *word) {
  size_t wlen = strlen(word);
  for (const char *p = list; *p != '\0';) {
    p += strspn(p, " \n");
    size_t len = strcspn(p, " \n");
    if (len == wlen && strncmp(p, word, len) == 0)
      return true;
    p += len;
  }
  return false;
}

/* ---- directories --------------------------------------------------------------------------- */

int cg_mkdir(const char *dir, bool *created, sk_error_t *err) {
  *created = false;
  if (cg_dir_exists(dir))
    return 0;
  if (mkdir_p(dir, 0755, err) < 0)
    return sk_error_wrap(err, "cgroup");
  *created = true;
  return 0;
}

static int add_pids(const char *dir, pid_t **pids, size_t *n, sk_error_t *err) {
  cleanup_free char *text = NULL;
  if (cg_read(dir, "cgroup.procs", &text, err) < 0)
    return err->errno_ == ENOENT ? 0 : -1; /* removed meanwhile */
  for (char *line = text; *line != '\0';) {
    long v = strtol(line, &line, 10);
    if (v > 0) {
      *pids = xrealloc(*pids, (*n + 1) * sizeof **pids);
      (*pids)[(*n)++] = (pid_t)v;
    }
    line += strspn(line, "\n");
    if (*line != '\0' && (*line < '0' || *line > '9'))
      return sk_error_set(err, 0, "cgroup: unexpected content in `%s/cgroup.procs`", dir);
  }
  return 0;
}

/* Calls fn for each child cgroup directory of dir. */
static int for_each_child(const char *dir, int (*fn)(const char *child, void *ctx, sk_error_t *err), void *ctx,
                          sk_error_t *err) {
  DIR *d = opendir(dir);
  if (d == NULL)
    return errno == ENOENT ? 0 : sk_error_errno(err, "cgroup: opendir `%s`", dir);
  int r = 0;
  struct dirent *de;
  while (r == 0 && (de = readdir(d)) != NULL) {
    if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    cleanup_free char *child = xasprintf("%s/%s", dir, de->d_name);
    r = fn(child, ctx, err);
  }
  closedir(d);
  return r;
}

typedef struct pid_list {
  pid_t **pids;
  size_t *n;
} pid_list_t;

static int collect_cb(const char *child, void *ctx, sk_error_t *err) {
  pid_list_t *l = ctx;
  return cg_collect_pids(child, l->pids, l->n, err);
}

int cg_collect_pids(const char *dir, pid_t **pids, size_t *n, sk_error_t *err) {
  if (add_pids(dir, pids, n, err) < 0)
    return -1;
  pid_list_t l = {pids, n};
  return for_each_child(dir, collect_cb, &l, err);
}

int cg_signal_tree(const char *dir, int sig, size_t *count, sk_error_t *err) {
  cleanup_free pid_t *pids = NULL;
  size_t n = 0;
  *count = 0;
  if (cg_collect_pids(dir, &pids, &n, err) < 0)
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (kill(pids[i], sig) == 0)
      (*count)++;
    else if (errno != ESRCH)
      return sk_error_errno(err, "cgroup: kill %d", (int)pids[i]);
  }
  return 0;
}

typedef struct rmdir_ctx {
  long long deadline_ms;
} rmdir_ctx_t;

static int rmdir_cb(const char *child, void *ctx, sk_error_t *err) {
  return cg_rmdir_tree(child, ((rmdir_ctx_t *)ctx)->deadline_ms, err);
}

int cg_rmdir_tree(const char *dir, long long deadline_ms, sk_error_t *err) {
  rmdir_ctx_t ctx = {deadline_ms};
  if (for_each_child(dir, rmdir_cb, &ctx, err) < 0)
    return -1;
  /* A killed process can linger a moment (exiting, or in uninterruptible sleep). */
  for (unsigned step = 0;; cg_backoff(&step)) {
    if (rmdir(dir) == 0 || errno == ENOENT)
      return 0;
    if (errno != EBUSY || cg_now_ms() > deadline_ms)
      return sk_error_errno(err, "cgroup: rmdir `%s`", dir);
  }
}

/* ---- time ---------------------------------------------------------------------------------- */

long long cg_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cg_backoff(unsigned *step) {
  unsigned ms = *step < 6 ? 1u << *step : 50;
  if (ms > 50)
    ms = 50;
  (*step)++;
  struct timespec ts = {0, (long)ms * 1000000};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}
