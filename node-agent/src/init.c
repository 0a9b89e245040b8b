/* The container process, from clone to execve: the lifecycle steps in their fixed order. The
 * first failure travels back to the parent as (errno, message) over the sync socket. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "linux.h"
#include "sync.h"
#include "util.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static bool has_cgroup_mount(const sk_config_t *cfg) {
  for (size_t i = 0; i < cfg->n_mounts; i++)
    if (cfg->mounts[i].kind == SK_MOUNT_CGROUP)
      return true;
  return false;
}

/* Blocks until `start` writes to exec.fifo. `run` has no fifo: its process goes on at once (the
 * parent, still listening on the socket, learns of a failed execve). */
static int wait_for_start(sk_init_ctx_t *ctx, sk_error_t *err) {
  if (ctx->fifo_fd < 0)
    return 0;
  char c;
  ssize_t n;
  do
    n = read(ctx->fifo_fd, &c, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1)
    return sk_error_errno(err, "start: read exec.fifo");
  close(ctx->fifo_fd);
  ctx->fifo_fd = -1;
  return 0;
}

static int setup_filesystem(sk_init_ctx_t *ctx, sk_error_t *err) {
  /* A cgroup mount must show the container's own cgroup, so it waits for the cgroup first. */
  if (has_cgroup_mount(ctx->cfg) && enter_cgroup(ctx, err) < 0)
    return -1;
  if (setup_rootfs(ctx, err) < 0)
    return -1;
  if (setup_mounts(ctx, err) < 0)
    return -1;
  if (setup_devices(ctx, err) < 0)
    return -1;
  if (mask_paths(ctx, err) < 0)
    return -1;
  if (do_pivot_root(ctx, err) < 0)
    return -1;
  return finish_rootfs(ctx, err);
}

static int run_steps(sk_init_ctx_t *ctx, char **exe, bool *seccomp_loaded, sk_error_t *err) {
  /* Descriptors inherited from our caller must not reach the container. */
  if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
    return sk_error_errno(err, "close_range");
  if (setup_namespaces(ctx, err) < 0)
    return -1;
  if (setup_filesystem(ctx, err) < 0)
    return -1;
  /* setup_cgroups is the parent's: it put us in the cgroup; we only wait for it. */
  if (enter_cgroup(ctx, err) < 0)
    return -1;
  if (prepare_process(ctx->proc, ctx->last_cap, ctx->seccomp, seccomp_loaded, err) < 0)
    return -1;
  return find_executable(ctx->proc, exe, err);
}

void container_init(sk_init_ctx_t *ctx) {
  sk_error_t err = {0};
  cleanup_free char *exe = NULL;
  bool seccomp_loaded = false;
  if (run_steps(ctx, &exe, &seccomp_loaded, &err) < 0 || sync_send(ctx->sync_fd, SK_SYNC_READY, 0, &err) < 0) {
    sync_send_error(ctx->sync_fd, &err);
    _exit(1);
  }
  if (wait_for_start(ctx, &err) < 0) {
    sync_send_error(ctx->sync_fd, &err);
    _exit(1);
  }
  reset_signals();
  exec_process(ctx->proc, exe, seccomp_loaded ? NULL : ctx->seccomp, &err);
  /* After `start` nobody may be listening on the socket any more; stderr is the last resort. */
  if (sync_send_error(ctx->sync_fd, &err) < 0)
    dprintf(2, "node-agent: error: %s\n", err.msg);
  _exit(127);
}
