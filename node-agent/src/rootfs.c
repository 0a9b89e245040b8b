/* setup_rootfs (private mount tree, the overlay or a bind of root.path, always nodev), pivot_root,
 * and the final read-only remount of the root. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "fs.h"
#include "linux.h"
#include "util.h"

static int mount_overlay(const sk_config_t *cfg, sk_error_t *err) {
  const sk_overlay_t *o = &cfg->overlay;
  cleanup_free char *data = NULL;
  if (o->upperdir != NULL)
    data = xasprintf("lowerdir=%s,upperdir=%s,workdir=%s", o->lowerdirs, o->upperdir, o->workdir);
  else
    data = xasprintf("lowerdir=%s", o->lowerdirs);
  if (strlen(data) >= 4096)
    return sk_error_set(err, E2BIG, "setup_rootfs: overlay options longer than a page (too many or too long layer paths)");
  if (mount("overlay", cfg->root_path, "overlay", MS_NODEV, data) < 0)
    return sk_error_errno(err, "setup_rootfs: mount overlay (%s) on `%s`", data, cfg->root_path);
  return 0;
}

int setup_rootfs(sk_init_ctx_t *ctx, sk_error_t *err) {
  const sk_config_t *cfg = ctx->cfg;
  /* Nothing we mount may propagate back to the host. */
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    return sk_error_errno(err, "setup_rootfs: make the mount tree private");
  struct stat st;
  if (stat(cfg->root_path, &st) < 0)
    return sk_error_errno(err, "setup_rootfs: root.path `%s`", cfg->root_path);
  if (!S_ISDIR(st.st_mode))
    return sk_error_set(err, ENOTDIR, "setup_rootfs: root.path `%s` is not a directory", cfg->root_path);
  if (cfg->overlay.lowerdirs != NULL) {
    if (mount_overlay(cfg, err) < 0)
      return -1;
  } else if (mount(cfg->root_path, cfg->root_path, NULL, MS_BIND | MS_REC, NULL) < 0) {
    /* pivot_root needs the new root to be a mount point. */
    return sk_error_errno(err, "setup_rootfs: bind `%s`", cfg->root_path);
  }
  ctx->rootfd = open(cfg->root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (ctx->rootfd < 0)
    return sk_error_errno(err, "setup_rootfs: open `%s`", cfg->root_path);
  /* There is no device cgroup: a device node that came with the image must stay unusable.
   * The container's devices live on their own /dev mount (setup_devices). */
  if (cfg->overlay.lowerdirs == NULL && mount_set_flags(ctx->rootfd, MS_NODEV, 0, 0, false, "/", err) < 0)
    return sk_error_wrap(err, "setup_rootfs");
  ctx->devnull_fd = open("/dev/null", O_PATH | O_CLOEXEC);
  if (ctx->devnull_fd < 0)
    return sk_error_errno(err, "setup_rootfs: open /dev/null");
  return 0;
}

int do_pivot_root(sk_init_ctx_t *ctx, sk_error_t *err) {
  /* pivot_root(".", ".") stacks the old root on top of the new one; unmounting "." then drops
   * it without needing a directory for it inside the container (as runc does). */
  if (fchdir(ctx->rootfd) < 0)
    return sk_error_errno(err, "pivot_root: chdir to the new root");
  if (syscall(SYS_pivot_root, ".", ".") < 0)
    return sk_error_errno(err, "pivot_root");
  if (umount2(".", MNT_DETACH) < 0)
    return sk_error_errno(err, "pivot_root: detach the old root");
  if (chdir("/") < 0)
    return sk_error_errno(err, "pivot_root: chdir /");
  close(ctx->rootfd);
  ctx->rootfd = -1;
  close(ctx->devnull_fd);
  ctx->devnull_fd = -1;
  return 0;
}

int finish_rootfs(sk_init_ctx_t *ctx, sk_error_t *err) {
  if (!ctx->cfg->root_readonly)
    return 0;
  cleanup_close int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return sk_error_errno(err, "setup_rootfs: open /");
  return mount_set_flags(fd, MS_RDONLY, 0, 0, false, "/", err);
}
