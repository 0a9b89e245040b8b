/* mask_paths: linux.maskedPaths (an empty read-only tmpfs over directories, /dev/null over
 * files, read-only too) and linux.readonlyPaths (a recursive read-only bind of the path onto itself). Paths
 * that do not exist in the container are skipped, as runc does. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fs.h"
#include "linux.h"
#include "util.h"

/* Opens path in the root; 0 with *fd = -1 when it does not exist. */
static int open_existing(sk_init_ctx_t *ctx, const char *path, int *fd, sk_error_t *err) {
  *fd = open_in_root(ctx->rootfd, path, O_PATH, err);
  if (*fd >= 0 || err->errno_ == ENOENT)
    return 0;
  return -1;
}

static int mask_one(sk_init_ctx_t *ctx, const char *path, sk_error_t *err) {
  cleanup_close int fd = -1;
  if (open_existing(ctx, path, &fd, err) < 0)
    return -1;
  if (fd < 0)
    return 0;
  struct stat st;
  if (fstat(fd, &st) < 0)
    return sk_error_errno(err, "stat `%s`", path);
  if (S_ISDIR(st.st_mode))
    return mount_on_fd("tmpfs", fd, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=0555", path, err);
  sk_fdpath_t null = fd_path(ctx->devnull_fd);
  if (mount_on_fd(null.p, fd, NULL, MS_BIND, NULL, path, err) < 0)
    return -1;
  cleanup_close int top = open_in_root(ctx->rootfd, path, O_PATH, err);
  if (top < 0)
    return -1;
  /* Not nodev: the mask is a device node, and reading it must give EOF, not EACCES. */
  return mount_set_flags(top, MS_RDONLY | MS_NOSUID | MS_NOEXEC, 0, 0, false, path, err);
}

static int readonly_one(sk_init_ctx_t *ctx, const char *path, sk_error_t *err) {
  cleanup_close int fd = -1;
  if (open_existing(ctx, path, &fd, err) < 0)
    return -1;
  if (fd < 0)
    return 0;
  sk_fdpath_t self = fd_path(fd);
  if (mount_on_fd(self.p, fd, NULL, MS_BIND | MS_REC, NULL, path, err) < 0)
    return -1;
  cleanup_close int top = open_in_root(ctx->rootfd, path, O_PATH, err);
  if (top < 0)
    return -1;
  return mount_set_flags(top, MS_RDONLY, 0, 0, true, path, err);
}

int mask_paths(sk_init_ctx_t *ctx, sk_error_t *err) {
  const sk_config_t *cfg = ctx->cfg;
  for (size_t i = 0; cfg->masked_paths[i] != NULL; i++)
    if (mask_one(ctx, cfg->masked_paths[i], err) < 0)
      return sk_error_wrap(err, "mask_paths: linux.maskedPaths[%zu]", i);
  for (size_t i = 0; cfg->readonly_paths[i] != NULL; i++)
    if (readonly_one(ctx, cfg->readonly_paths[i], err) < 0)
      return sk_error_wrap(err, "mask_paths: linux.readonlyPaths[%zu]", i);
  return 0;
}
