/* Path resolution inside the container's root that can never escape it (openat2 with
 * RESOLVE_IN_ROOT, so `..` and absolute symlinks stay inside), and mounting onto an fd through
 * /proc/self/fd (the target is the file we resolved, not a path someone could swap). */
#ifndef SK_FS_H
#define SK_FS_H

#include <stdbool.h>
#include <sys/types.h>
#include "error.h"

/* Opens a container-absolute path inside rootfd. flags as for openat (O_PATH is typical). */
int open_in_root(int rootfd, const char *path, int flags, sk_error_t *err);
/* mkdir -p inside rootfd; returns an O_PATH fd of the directory. */
int mkdir_in_root(int rootfd, const char *path, mode_t mode, sk_error_t *err);
/* Creates an empty regular file (and its parents) to bind a file over; returns an O_PATH fd. */
int mkfile_in_root(int rootfd, const char *path, sk_error_t *err);

typedef struct {
  char p[32];
} sk_fdpath_t;
/* "/proc/self/fd/N" */
sk_fdpath_t fd_path(int fd);

/* mount(2) onto the file behind target_fd; `what` names the target in errors. */
int mount_on_fd(const char *source, int target_fd, const char *type, unsigned long flags, const char *data,
                const char *what, sk_error_t *err);
/* Changes the flags of the mount on top of target_fd (which must have been opened after the
 * mount): set/clear MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_NOSYMFOLLOW and atime flags,
 * and propagation. recursive applies to the whole subtree. */
int mount_set_flags(int target_fd, unsigned long set, unsigned long clear, unsigned long propagation, bool recursive,
                    const char *what, sk_error_t *err);

#endif
