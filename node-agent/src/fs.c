#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "util.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

static int openat2_in_root(int rootfd, const char *path, int flags) {
  struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
  int fd;
  do
    fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
  while (fd < 0 && errno == EAGAIN);
  return fd;
}

int open_in_root(int rootfd, const char *path, int flags, sk_error_t *err) {
  int fd = openat2_in_root(rootfd, path, flags);
  if (fd < 0)
    return sk_error_errno(err, "open `%s` in the container root", path);
  return fd;
}

static int mkdir_in_root_depth(int rootfd, const char *path, mode_t mode, int depth, sk_error_t *err);

/* A component that is a dangling symlink: create its target (inside the root, like everything
 * else), as runc does for mount points below such links. */
static int mkdir_link_target(int rootfd, int dirfd, const char *prefix, const char *name, mode_t mode, int depth, sk_error_t *err) {
  char target[PATH_MAX];
  ssize_t n = readlinkat(dirfd, name, target, sizeof target - 1);
  if (n < 0)
    return errno == EINVAL ? sk_error_set(err, ENOENT, "open `%s` in the container root", prefix) : sk_error_errno(err, "readlink `%s`", prefix);
  target[n] = '\0';
  char resolved[PATH_MAX];
  const char *slash = strrchr(prefix, '/');
  int len = target[0] == '/' ? snprintf(resolved, sizeof resolved, "%s", target)
                             : snprintf(resolved, sizeof resolved, "%.*s/%s", (int)(slash - prefix), prefix, target);
  if (len < 0 || (size_t)len >= sizeof resolved)
    return sk_error_set(err, ENAMETOOLONG, "symlink `%s`", prefix);
  int fd = mkdir_in_root_depth(rootfd, resolved, mode, depth + 1, err);
  if (fd >= 0)
    close(fd);
  return fd < 0 ? -1 : 0;
}

static int mkdir_in_root_depth(int rootfd, const char *path, mode_t mode, int depth, sk_error_t *err) {
  int fd = openat2_in_root(rootfd, path, O_PATH | O_DIRECTORY);
  if (fd >= 0 || errno != ENOENT)
    return fd >= 0 ? fd : sk_error_errno(err, "open `%s` in the container root", path);
  if (depth > 8)
    return sk_error_set(err, ELOOP, "mkdir `%s` in the container root: too many symlinks", path);
  char buf[PATH_MAX];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
    return sk_error_set(err, ENAMETOOLONG, "path `%s`", path);
  cleanup_close int cur = openat2_in_root(rootfd, "/", O_PATH | O_DIRECTORY);
  if (cur < 0)
    return sk_error_errno(err, "open the container root");
  for (char *c = buf; *c != '\0';) {
    while (*c == '/')
      c++;
    if (*c == '\0')
      break;
    char *end = c + strcspn(c, "/");
    char saved = *end;
    *end = '\0';
    if (mkdirat(cur, c, mode) < 0 && errno != EEXIST)
      return sk_error_errno(err, "mkdir `%s` in the container root", buf);
    int next = openat2_in_root(rootfd, buf, O_PATH | O_DIRECTORY);
    if (next < 0 && errno == ENOENT) {
      if (mkdir_link_target(rootfd, cur, buf, c, mode, depth, err) < 0)
        return -1;
      next = openat2_in_root(rootfd, buf, O_PATH | O_DIRECTORY);
    }
    if (next < 0)
      return sk_error_errno(err, "open `%s` in the container root", buf);
    close(cur);
    cur = next;
    *end = saved;
    c = end;
  }
  return steal_fd(&cur);
}

int mkdir_in_root(int rootfd, const char *path, mode_t mode, sk_error_t *err) {
  return mkdir_in_root_depth(rootfd, path, mode, 0, err);
}

int mkfile_in_root(int rootfd, const char *path, sk_error_t *err) {
  int fd = openat2_in_root(rootfd, path, O_PATH);
  if (fd >= 0 || errno != ENOENT)
    return fd >= 0 ? fd : sk_error_errno(err, "open `%s` in the container root", path);
  char parent[PATH_MAX];
  snprintf(parent, sizeof parent, "%s", path);
  char *slash = strrchr(parent, '/');
  if (slash == NULL || slash[1] == '\0')
    return sk_error_set(err, EINVAL, "bad path `%s`", path);
  *slash = '\0';
  cleanup_close int dir = mkdir_in_root(rootfd, parent[0] ? parent : "/", 0755, err);
  if (dir < 0)
    return -1;
  int f = openat(dir, slash + 1, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (f < 0 && errno != EEXIST)
    return sk_error_errno(err, "create `%s` in the container root", path);
  if (f >= 0)
    close(f);
  return open_in_root(rootfd, path, O_PATH, err);
}

sk_fdpath_t fd_path(int fd) {
  sk_fdpath_t r;
  snprintf(r.p, sizeof r.p, "/proc/self/fd/%d", fd);
  return r;
}

int mount_on_fd(const char *source, int target_fd, const char *type, unsigned long flags, const char *data,
                const char *what, sk_error_t *err) {
  sk_fdpath_t t = fd_path(target_fd);
  if (mount(source, t.p, type, flags, data) < 0)
    return sk_error_errno(err, "mount %s `%s` on `%s`", type ? type : "bind", source ? source : "", what);
  return 0;
}

static uint64_t to_attr(unsigned long ms) {
  uint64_t a = 0;
  if (ms & MS_RDONLY)
    a |= MOUNT_ATTR_RDONLY;
  if (ms & MS_NOSUID)
    a |= MOUNT_ATTR_NOSUID;
  if (ms & MS_NODEV)
    a |= MOUNT_ATTR_NODEV;
  if (ms & MS_NOEXEC)
    a |= MOUNT_ATTR_NOEXEC;
  if (ms & MS_NODIRATIME)
    a |= MOUNT_ATTR_NODIRATIME;
  if (ms & MS_NOSYMFOLLOW)
    a |= MOUNT_ATTR_NOSYMFOLLOW;
  return a;
}

int mount_set_flags(int target_fd, unsigned long set, unsigned long clear, unsigned long propagation, bool recursive,
                    const char *what, sk_error_t *err) {
  struct mount_attr attr = {.attr_set = to_attr(set), .attr_clr = to_attr(clear), .propagation = propagation & ~MS_REC};
  /* Access time is one field: setting any mode replaces the current one. */
  if (set & (MS_NOATIME | MS_RELATIME | MS_STRICTATIME)) {
    attr.attr_clr |= MOUNT_ATTR__ATIME;
    attr.attr_set |= (set & MS_NOATIME) ? MOUNT_ATTR_NOATIME : (set & MS_STRICTATIME) ? MOUNT_ATTR_STRICTATIME : MOUNT_ATTR_RELATIME;
  }
  if (attr.attr_set == 0 && attr.attr_clr == 0 && attr.propagation == 0)
    return 0;
  unsigned int at = AT_EMPTY_PATH | (recursive || (propagation & MS_REC) ? AT_RECURSIVE : 0);
  if (mount_setattr(target_fd, "", at, &attr, sizeof attr) < 0)
    return sk_error_errno(err, "set mount flags of `%s`", what);
  return 0;
}
