/* A cgroup mount inside the container: cgroup2 on a unified host; on a v1/hybrid host a tmpfs
 * with one mount per hierarchy the host has (named like the host's mount points). Both show the
 * container's cgroup as the root because the cgroup namespace was unshared after joining it. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fs.h"
#include "linux.h"
#include "util.h"

/* One hierarchy from a mountinfo line: "... <mountpoint> <opts> ... - <fstype> <src> <superopts>". */
static int mount_hierarchy(int dirfd, char *line, unsigned long flags, const char *dest, sk_error_t *err) {
  char *fields[5] = {0}, *save = NULL, *sep = strstr(line, " - ");
  if (sep == NULL)
    return 0;
  *sep = '\0';
  char *tok = strtok_r(line, " ", &save);
  for (int i = 0; tok != NULL && i < 5; i++, tok = strtok_r(NULL, " ", &save))
    fields[i] = tok;
  char *fstype = strtok_r(sep + 3, " ", &save), *src = strtok_r(NULL, " ", &save), *super = strtok_r(NULL, " \n", &save);
  if (fields[4] == NULL || fstype == NULL || src == NULL || super == NULL)
    return 0;
  bool v2 = strcmp(fstype, "cgroup2") == 0;
  if (!v2 && strcmp(fstype, "cgroup") != 0)
    return 0;
  const char *name = strrchr(fields[4], '/');
  name = name ? name + 1 : fields[4];
  if (*name == '\0' || strchr(name, '\\') != NULL)
    return 0;
  /* Drop "rw"/"ro" from the super options: what stays names the controllers. */
  if (strncmp(super, "rw,", 3) == 0 || strncmp(super, "ro,", 3) == 0)
    super += 3;
  else if (strcmp(super, "rw") == 0 || strcmp(super, "ro") == 0)
    super = "";
  if (mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST)
    return sk_error_errno(err, "mkdir `%s/%s`", dest, name);
  cleanup_close int t = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (t < 0)
    return sk_error_errno(err, "open `%s/%s`", dest, name);
  return mount_on_fd(fstype, t, fstype, flags, v2 || *super == '\0' ? NULL : super, name, err);
}

static int mount_v1(sk_init_ctx_t *ctx, const sk_mount_t *m, int target_fd, sk_error_t *err) {
  unsigned long flags = m->flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY);
  if (mount_on_fd("tmpfs", target_fd, "tmpfs", flags & ~MS_RDONLY, "mode=755", m->destination, err) < 0)
    return -1;
  cleanup_close int top = open_in_root(ctx->rootfd, m->destination, O_RDONLY | O_DIRECTORY, err);
  if (top < 0)
    return -1;
  cleanup_file FILE *f = fopen("/proc/self/mountinfo", "re");
  if (f == NULL)
    return sk_error_errno(err, "open /proc/self/mountinfo");
  cleanup_free char *line = NULL;
  size_t cap = 0;
  while (getline(&line, &cap, f) > 0)
    if (strstr(line, " - cgroup") != NULL && strstr(line, " /sys/fs/cgroup/") != NULL &&
        mount_hierarchy(top, line, flags, m->destination, err) < 0)
      return -1;
  return mount_set_flags(top, flags, 0, 0, false, m->destination, err);
}

int mount_cgroupfs(sk_init_ctx_t *ctx, const sk_mount_t *m, int target_fd, sk_error_t *err) {
  if (ctx->cgroup_mode == SK_CGROUP_V2)
    return mount_on_fd("cgroup2", target_fd, "cgroup2", m->flags & ~MS_SILENT, NULL, m->destination, err);
  return mount_v1(ctx, m, target_fd, err);
}
