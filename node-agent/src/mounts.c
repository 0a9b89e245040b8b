/* setup_mounts: config.json `mounts`, in order, each target resolved inside the new root. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fs.h"
#include "linux.h"
#include "util.h"

/* The mount point: a directory, or an empty file when a file is bind-mounted. */
static int make_target(sk_init_ctx_t *ctx, const sk_mount_t *m, sk_error_t *err) {
  if (m->kind == SK_MOUNT_BIND) {
    struct stat st;
    if (stat(m->source, &st) < 0)
      return sk_error_errno(err, "bind source `%s`", m->source);
    if (!S_ISDIR(st.st_mode))
      return mkfile_in_root(ctx->rootfd, m->destination, err);
  }
  return mkdir_in_root(ctx->rootfd, m->destination, 0755, err);
}

static int mount_bind(sk_init_ctx_t *ctx, const sk_mount_t *m, int target, sk_error_t *err) {
  if (mount_on_fd(m->source, target, NULL, MS_BIND | (m->recursive ? MS_REC : 0), NULL, m->destination, err) < 0)
    return -1;
  if ((m->flags & ~MS_SILENT) == 0 && m->clear_flags == 0 && m->propagation == 0)
    return 0;
  /* The flags belong to the new mount, so it is reopened: target still points below it. */
  cleanup_close int top = open_in_root(ctx->rootfd, m->destination, O_PATH | O_NOFOLLOW, err);
  if (top < 0)
    return -1;
  return mount_set_flags(top, m->flags, m->clear_flags, m->propagation, m->recursive, m->destination, err);
}

static int mount_one(sk_init_ctx_t *ctx, const sk_mount_t *m, sk_error_t *err) {
  cleanup_close int target = make_target(ctx, m, err);
  if (target < 0)
    return -1;
  if (m->kind == SK_MOUNT_BIND)
    return mount_bind(ctx, m, target, err);
  if (m->kind == SK_MOUNT_CGROUP)
    return mount_cgroupfs(ctx, m, target, err);
  const char *type = m->type;
  if (mount_on_fd(m->source && *m->source ? m->source : type, target, type, m->flags & ~MS_SILENT, m->data, m->destination, err) < 0)
    return -1;
  if (m->propagation == 0)
    return 0;
  cleanup_close int top = open_in_root(ctx->rootfd, m->destination, O_PATH | O_NOFOLLOW, err);
  if (top < 0)
    return -1;
  return mount_set_flags(top, 0, 0, m->propagation, false, m->destination, err);
}

int setup_mounts(sk_init_ctx_t *ctx, sk_error_t *err) {
  for (size_t i = 0; i < ctx->cfg->n_mounts; i++) {
    if (mount_one(ctx, &ctx->cfg->mounts[i], err) < 0)
      return sk_error_wrap(err, "setup_mounts: mounts[%zu]", i);
  }
  return 0;
}
