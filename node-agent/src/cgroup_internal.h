/* Shared by the cgroup implementations: cgroup.c (dispatch, detection, file helpers),
 * cgroup_v1.c (v1 and hybrid hosts) and cgroup_v2.c (the unified hierarchy). */
#ifndef SK_CGROUP_INTERNAL_H
#define SK_CGROUP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "error.h"
#include "resources.h"

/* How long destroy waits for killed processes to leave before giving up. */
#define CG_EMPTY_TIMEOUT_MS 10000
/* How long a freeze may take before signals are sent anyway. */
#define CG_FREEZE_TIMEOUT_MS 1000

/* ---- files ---- */
/* Writes `value` to dir/file; the error names the file. */
int cg_write(const char *dir, const char *file, const char *value, sk_error_t *err);
/* Reads dir/file, trailing newline stripped. */
int cg_read(const char *dir, const char *file, char **out, sk_error_t *err);
bool cg_has_file(const char *dir, const char *file);
bool cg_dir_exists(const char *dir);
/* The number after `key ` in a flat-keyed file (memory.events, memory.oom_control, cgroup.events). */
bool cg_key_value(const char *text, const char *key, long long *value);
/* Whether a space-separated list (cgroup.controllers) holds `word`. */
bool cg_has_word(const char *list, const char *word);

/* ---- directories ---- */
/* mkdir -p of dir; *created tells whether the leaf is new. */
int cg_mkdir(const char *dir, bool *created, sk_error_t *err);
/* Appends the pids of dir/cgroup.procs and of every descendant cgroup to *pids. */
int cg_collect_pids(const char *dir, pid_t **pids, size_t *n, sk_error_t *err);
/* Sends sig to every pid in the subtree; returns how many were signalled in *count. */
int cg_signal_tree(const char *dir, int sig, size_t *count, sk_error_t *err);
/* rmdir of dir and its descendant cgroups, deepest first, retrying on EBUSY until deadline_ms
 * (CLOCK_MONOTONIC). Absent is fine. */
int cg_rmdir_tree(const char *dir, long long deadline_ms, sk_error_t *err);

/* ---- limits ---- */
/* Checks the values the kernel would refuse with a bare EINVAL, to say why. */
int cg_check_resources(const sk_resources_t *res, sk_error_t *err);
/* "max" for unlimited (< 0, or 0 where the spec means unlimited), else the number. */
void cg_format_max(int64_t v, bool zero_is_max, char buf[32]);

/* ---- time ---- */
long long cg_now_ms(void);
/* Sleeps a little longer on each call (1 ms doubling to 50 ms). */
void cg_backoff(unsigned *step);

/* Validates a cgroup path: absolute, no `.`/`..` components. */
int cg_check_path(const char *path, sk_error_t *err);

/* The v2 root: $SK_CGROUP_ROOT_V2 or /sys/fs/cgroup. */
const char *cg_v2_root(void);

int cgroup_v1_create(const sk_cgroup_t *cg, const sk_resources_t *res, pid_t pid, sk_error_t *err);
int cgroup_v1_update(const sk_cgroup_t *cg, const sk_resources_t *res, sk_error_t *err);
int cgroup_v1_kill_all(const sk_cgroup_t *cg, int sig, sk_error_t *err);
int cgroup_v1_destroy(const sk_cgroup_t *cg, sk_error_t *err);
int cgroup_v1_pids(const sk_cgroup_t *cg, pid_t **pids, size_t *n, sk_error_t *err);
int cgroup_v1_oom_kills(const sk_cgroup_t *cg, long long *kills, sk_error_t *err);

int cgroup_v2_create(const sk_cgroup_t *cg, const sk_resources_t *res, pid_t pid, sk_error_t *err);
int cgroup_v2_update(const sk_cgroup_t *cg, const sk_resources_t *res, sk_error_t *err);
int cgroup_v2_kill_all(const sk_cgroup_t *cg, int sig, sk_error_t *err);
int cgroup_v2_destroy(const sk_cgroup_t *cg, sk_error_t *err);
int cgroup_v2_pids(const sk_cgroup_t *cg, pid_t **pids, size_t *n, sk_error_t *err);
int cgroup_v2_oom_kills(const sk_cgroup_t *cg, long long *kills, sk_error_t *err);

#endif
