/* The container process's lifecycle as named steps (after crun and bubblewrap). The parent
 * (container.c) parses, validates and compiles everything first; the child (init.c) runs these
 * steps in order and reports the first failure back over the sync socket. */
#ifndef SK_LINUX_H
#define SK_LINUX_H

#include <linux/filter.h>
#include <stdbool.h>
#include "config.h"
#include "error.h"
#include "resources.h"

typedef struct sk_init_ctx {
  const sk_config_t *cfg;
  const sk_process_t *proc;          /* what to execve */
  int sync_fd;                       /* child end of the sync socketpair */
  int fifo_fd;                       /* exec.fifo (O_RDWR) to wait on for `start`; -1 = exec at once (run) */
  int rootfd;                        /* the container root (O_PATH) until pivot_root */
  int devnull_fd;                    /* host /dev/null (O_PATH), the source for masking files */
  sk_cgroup_mode_t cgroup_mode;
  const struct sock_fprog *seccomp;  /* compiled by the parent; NULL = none */
  int last_cap;
  bool cgroup_joined;                /* parent said SK_SYNC_CGROUP_DONE */
} sk_init_ctx_t;

/* namespaces.c */
int setup_namespaces(sk_init_ctx_t *ctx, sk_error_t *err);
/* Waits until the parent put us in the cgroup, then (if asked) unshares the cgroup namespace so
 * its root is the container's cgroup. */
int enter_cgroup(sk_init_ctx_t *ctx, sk_error_t *err);
/* setns into each namespace of `path` entries of type `type` (0 = all joined ones except pid). */
int join_namespaces(const sk_config_t *cfg, int only_type, sk_error_t *err);

/* rootfs.c */
int setup_rootfs(sk_init_ctx_t *ctx, sk_error_t *err);
int do_pivot_root(sk_init_ctx_t *ctx, sk_error_t *err);
int finish_rootfs(sk_init_ctx_t *ctx, sk_error_t *err);

/* mounts.c */
int setup_mounts(sk_init_ctx_t *ctx, sk_error_t *err);
/* mount_cgroupfs.c: the container's view of its cgroup at `target_fd`. */
int mount_cgroupfs(sk_init_ctx_t *ctx, const sk_mount_t *m, int target_fd, sk_error_t *err);

/* devices.c */
int setup_devices(sk_init_ctx_t *ctx, sk_error_t *err);

/* mask.c */
int mask_paths(sk_init_ctx_t *ctx, sk_error_t *err);

/* process.c: the tail shared by the container's init and `exec`: rlimits, umask, privileges,
 * cwd, executable lookup — everything that can fail before the point of no return. */
/* Without no_new_privileges the kernel only accepts a filter while we still hold CAP_SYS_ADMIN,
 * so then seccomp is loaded here, before the privileges go (*seccomp_loaded tells). */
int prepare_process(const sk_process_t *p, int last_cap, const struct sock_fprog *seccomp, bool *seccomp_loaded, sk_error_t *err);
/* Resolves argv[0] against PATH from the process environment (or a default). */
int find_executable(const sk_process_t *p, char **path, sk_error_t *err);
/* apply_seccomp (if not already loaded) + execve. Returns only on failure. */
int exec_process(const sk_process_t *p, const char *path, const struct sock_fprog *seccomp, sk_error_t *err);
/* Restores default signal dispositions and an empty mask (inherited ones must not leak in). */
void reset_signals(void);

/* init.c: the container process; never returns. */
__attribute__((noreturn)) void container_init(sk_init_ctx_t *ctx);

#endif
