/* Parsed linux.resources and the cgroup interface: one small interface, two
 * implementations (cgroup_v2.c for the unified hierarchy, cgroup_v1.c for v1 / hybrid hosts),
 * chosen once at start by cgroup_detect(). */
#ifndef SK_RESOURCES_H
#define SK_RESOURCES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "error.h"

typedef struct sk_resources {
  bool has_memory_limit;
  int64_t memory_limit;      /* bytes; -1 = unlimited */
  bool has_memory_swap;
  int64_t memory_swap;       /* bytes; -1 = unlimited (memory+swap, as the runtime-spec) */
  bool has_cpu_quota;
  int64_t cpu_quota;         /* µs per period; -1 = unlimited */
  bool has_cpu_period;
  uint64_t cpu_period;       /* µs */
  bool has_cpu_shares;
  uint64_t cpu_shares;
  bool has_pids_limit;
  int64_t pids_limit;        /* -1 or 0 = unlimited */
} sk_resources_t;

typedef enum { SK_CGROUP_V1 = 1, SK_CGROUP_V2 = 2 } sk_cgroup_mode_t;

/* A sandbox's cgroup. `path` is the cgroup path relative to each hierarchy's root,
 * e.g. "/sandkasten/<id>" (linux.cgroupsPath, or a default made from the id). */
typedef struct sk_cgroup {
  sk_cgroup_mode_t mode;
  char path[512];
} sk_cgroup_t;

/* Detects the host's mode: SK_CGROUP_V2 when /sys/fs/cgroup is cgroup2, else SK_CGROUP_V1
 * (v1 controllers, with or without the hybrid /sys/fs/cgroup/unified). The environment variable
 * SK_CGROUP_ROOT_V2 (a cgroup2 mount point) forces v2 mode rooted there, for tests on hybrid hosts. */
int cgroup_detect(sk_cgroup_mode_t *mode, sk_error_t *err);

/* Creates the cgroup (every needed controller on v1), applies the limits, and moves `pid` into it.
 * A limit whose controller is missing is an error naming the controller, never ignored. */
int cgroup_create(const sk_cgroup_t *cg, const sk_resources_t *res, pid_t pid, sk_error_t *err);
/* Applies new limits to a live cgroup (the `update` command). */
int cgroup_update(const sk_cgroup_t *cg, const sk_resources_t *res, sk_error_t *err);
/* Sends `sig` to every process of the cgroup (cgroup.kill on v2 when the signal is SIGKILL). */
int cgroup_kill_all(const sk_cgroup_t *cg, int sig, sk_error_t *err);
/* Kills everything still inside, waits until it is empty, removes the directories. Absent = ok. */
int cgroup_destroy(const sk_cgroup_t *cg, sk_error_t *err);
/* Lists the pids inside (caller frees *pids). */
int cgroup_pids(const sk_cgroup_t *cg, pid_t **pids, size_t *n, sk_error_t *err);
/* Whether the kernel's OOM killer fired inside this cgroup (memory.events oom_kill / memory.oom_control). */
int cgroup_oom_killed(const sk_cgroup_t *cg, bool *killed, sk_error_t *err);
/* How many processes the kernel's OOM killer has killed inside this cgroup (0 when the memory
 * controller is absent or the kernel does not count). */
int cgroup_oom_kills(const sk_cgroup_t *cg, long long *kills, sk_error_t *err);

#endif
