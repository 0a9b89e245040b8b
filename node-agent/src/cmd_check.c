/* check: what this host offers node-agent, as one JSON object (for `sandkasten doctor`). "ok"
 * is true when everything node-agent needs is there. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>
#include "cmdutil.h"
#include "commands.h"
#include "json.h"
#include "resources.h"
#include "util.h"

/* A syscall exists if calling it with garbage fails with anything but ENOSYS. */
static bool has_syscall(long nr) {
  errno = 0;
  long r = syscall(nr, -1, NULL, 0, 0, 0);
  if (r >= 0)
    close((int)r);
  return !(r < 0 && errno == ENOSYS);
}

static bool file_has_word(const char *path, const char *word) {
  cleanup_free char *buf = NULL;
  sk_error_t ignored;
  if (read_file_at(AT_FDCWD, path, 1u << 20, &buf, NULL, &ignored) < 0)
    return false;
  for (char *p = buf; (p = strstr(p, word)) != NULL; p += strlen(word))
    if ((p == buf || strchr(" \t\n,", p[-1]) != NULL) && strchr(" \t\n,", p[strlen(word)]) != NULL)
      return true;
  return false;
}

static void add_word(char ***list, size_t *n, const char *w, size_t len) {
  for (size_t i = 0; i < *n; i++)
    if (strlen((*list)[i]) == len && strncmp((*list)[i], w, len) == 0)
      return;
  *list = xrealloc(*list, (*n + 2) * sizeof(char *));
  (*list)[(*n)++] = strndup(w, len);
  (*list)[*n] = NULL;
}

/* v1 controllers from the super options of each cgroup mount; v2 ones from cgroup.controllers
 * of the cgroup2 mount (/sys/fs/cgroup or, on a hybrid host, /sys/fs/cgroup/unified). */
static void print_controllers(FILE *out, bool *hybrid) {
  cleanup_free char *mi = NULL, *v2 = NULL;
  cleanup_strv char **list = NULL;
  size_t n = 0;
  sk_error_t ignored;
  if (read_file_at(AT_FDCWD, "/proc/self/mountinfo", 0, &mi, NULL, &ignored) == 0) {
    *hybrid = strstr(mi, " /sys/fs/cgroup/unified ") != NULL;
    for (char *line = strtok(mi, "\n"); line != NULL; line = strtok(NULL, "\n")) {
      char *sep = strstr(line, " - cgroup cgroup ");
      char *opts = sep ? strrchr(sep, ' ') + 1 : NULL;
      for (char *o = opts; o != NULL && *o != '\0'; o += strcspn(o, ",") + (o[strcspn(o, ",")] == ',')) {
        size_t len = strcspn(o, ",");
        if (!(len == 2 && (strncmp(o, "rw", 2) == 0 || strncmp(o, "ro", 2) == 0)) && strncmp(o, "name=", 5) != 0)
          add_word(&list, &n, o, len);
      }
    }
  }
  if (read_file_at(AT_FDCWD, "/sys/fs/cgroup/cgroup.controllers", 4096, &v2, NULL, &ignored) == 0 ||
      read_file_at(AT_FDCWD, "/sys/fs/cgroup/unified/cgroup.controllers", 4096, &v2, NULL, &ignored) == 0)
    for (char *w = strtok(v2, " \n"); w != NULL; w = strtok(NULL, " \n"))
      add_word(&list, &n, w, strlen(w));
  fputc('[', out);
  for (size_t i = 0; i < n; i++) {
    fputs(i ? "," : "", out);
    json_write_string(out, list[i]);
  }
  fputc(']', out);
}

int cmd_check(int argc, char **argv, const sk_global_opts_t *g, sk_error_t *err) {
  (void)g;
  if (cmd_getopt(argc, argv, "", (const struct option[]){{NULL, 0, NULL, 0}}, err) != -1 || optind != argc)
    return optind != argc ? sk_error_set(err, EINVAL, "check: takes no operands") : -1;
  struct utsname u;
  uname(&u);
  sk_cgroup_mode_t mode = 0;
  sk_error_t cgerr = {0};
  bool cg_ok = cgroup_detect(&mode, &cgerr) == 0, hybrid = false;
  bool overlay = file_has_word("/proc/filesystems", "overlay");
  cleanup_free char *maxns = NULL;
  sk_error_t ignored;
  bool userns = read_file_at(AT_FDCWD, "/proc/sys/user/max_user_namespaces", 64, &maxns, NULL, &ignored) == 0 && atoi(maxns) > 0;
  bool seccomp = prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0;
  bool pidfd = has_syscall(SYS_pidfd_open), clone3 = has_syscall(SYS_clone3), openat2 = has_syscall(SYS_openat2),
       setattr = has_syscall(SYS_mount_setattr);
  printf("{\"kernel\":");
  json_write_string(stdout, u.release);
  printf(",\"arch\":");
  json_write_string(stdout, u.machine);
  printf(",\"cgroup\":{\"mode\":\"%s\",\"controllers\":", !cg_ok ? "unknown" : mode == SK_CGROUP_V2 ? "v2" : "v1");
  print_controllers(stdout, &hybrid);
  printf(",\"hybrid\":%s", mode == SK_CGROUP_V1 && hybrid ? "true" : "false");
  /* Without favordynmods every first move into a cgroup after a quiet spell waits for an RCU
   * grace period (milliseconds): worth knowing when sandbox start latency matters. */
  printf(",\"favordynmods\":%s", file_has_word("/proc/self/mountinfo", "favordynmods") ? "true" : "false");
  if (!cg_ok) {
    printf(",\"error\":");
    json_write_string(stdout, cgerr.msg);
  }
  printf("},\"overlayfs\":%s,\"userNamespaces\":%s,\"seccomp\":%s,\"pidfd\":%s,\"clone3\":%s,\"openat2\":%s,\"mountSetattr\":%s",
         overlay ? "true" : "false", userns ? "true" : "false", seccomp ? "true" : "false", pidfd ? "true" : "false",
         clone3 ? "true" : "false", openat2 ? "true" : "false", setattr ? "true" : "false");
  bool ok = cg_ok && overlay && seccomp && pidfd && openat2 && setattr;
  printf(",\"ok\":%s}\n", ok ? "true" : "false");
  return 0;
}
