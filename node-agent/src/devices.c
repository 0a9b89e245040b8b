/* setup_devices: the default device set in the container's /dev — null, zero, full, random,
 * urandom, tty as device nodes (bind mounts of the host's nodes inside a user namespace, where
 * mknod is not allowed), and the usual symlinks. Nothing else: linux.devices is refused. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "fs.h"
#include "linux.h"
#include "util.h"

static const struct {
  const char *name;
  unsigned major, minor;
} devices[] = {
    {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

static const struct {
  const char *name, *target;
} links[] = {
    {"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
    {"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"}, {"core", "/proc/kcore"},
};

static int bind_device(int devfd, const char *name, sk_error_t *err) {
  int f = openat(devfd, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (f < 0)
    return sk_error_errno(err, "setup_devices: create /dev/%s", name);
  close(f);
  cleanup_close int target = openat(devfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (target < 0)
    return sk_error_errno(err, "setup_devices: open /dev/%s", name);
  char src[64];
  snprintf(src, sizeof src, "/dev/%s", name);
  return mount_on_fd(src, target, NULL, MS_BIND, NULL, src, err);
}

static int make_device(int devfd, bool in_userns, size_t i, sk_error_t *err) {
  const char *name = devices[i].name;
  /* Whatever the image has under this name is replaced: /dev/null must be /dev/null. */
  if (unlinkat(devfd, name, 0) < 0 && errno != ENOENT)
    return sk_error_errno(err, "setup_devices: remove /dev/%s", name);
  if (in_userns)
    return bind_device(devfd, name, err);
  if (mknodat(devfd, name, S_IFCHR | 0666, makedev(devices[i].major, devices[i].minor)) < 0)
    return sk_error_errno(err, "setup_devices: mknod /dev/%s", name);
  /* mknod's mode is filtered by the umask: set it again so every user can use the device. */
  if (fchmodat(devfd, name, 0666, 0) < 0)
    return sk_error_errno(err, "setup_devices: chmod /dev/%s", name);
  return 0;
}

/* The devices need a mount of their own: the root is nodev. Without a /dev mount in the config,
 * a small tmpfs is put there. Returns 1 when /dev is bind-mounted from the host (nothing to do). */
static int dev_mount(sk_init_ctx_t *ctx, int *devpath, sk_error_t *err) {
  bool mounted = false;
  for (size_t i = 0; i < ctx->cfg->n_mounts; i++) {
    if (strcmp(ctx->cfg->mounts[i].destination, "/dev") != 0)
      continue;
    if (ctx->cfg->mounts[i].kind == SK_MOUNT_BIND)
      return 1;
    mounted = true;
  }
  *devpath = mkdir_in_root(ctx->rootfd, "/dev", 0755, err);
  if (*devpath < 0)
    return -1;
  if (mounted)
    return 0;
  if (mount_on_fd("tmpfs", *devpath, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=64k", "/dev", err) < 0)
    return sk_error_wrap(err, "setup_devices");
  close(*devpath);
  *devpath = open_in_root(ctx->rootfd, "/dev", O_PATH | O_DIRECTORY, err);
  return *devpath < 0 ? -1 : 0;
}

int setup_devices(sk_init_ctx_t *ctx, sk_error_t *err) {
  cleanup_close int devpath = -1;
  int r = dev_mount(ctx, &devpath, err);
  if (r != 0)
    return r < 0 ? -1 : 0;
  cleanup_close int devfd = openat(devpath, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (devfd < 0)
    return sk_error_errno(err, "setup_devices: open /dev");
  bool in_userns = ctx->cfg->clone_flags & CLONE_NEWUSER;
  for (size_t i = 0; i < SK_ARRAY_SIZE(devices); i++)
    if (make_device(devfd, in_userns, i, err) < 0)
      return -1;
  for (size_t i = 0; i < SK_ARRAY_SIZE(links); i++) {
    if (symlinkat(links[i].target, devfd, links[i].name) == 0 || errno == EEXIST)
      continue;
    return sk_error_errno(err, "setup_devices: symlink /dev/%s", links[i].name);
  }
  return 0;
}
