/* drop_privileges and the capability name table. */
#include "caps.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "util.h"

static const char *const cap_names[] = {
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
    "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
};

int cap_from_name(const char *name) {
  for (size_t i = 0; i < SK_ARRAY_SIZE(cap_names); i++)
    if (strcmp(cap_names[i], name) == 0)
      return (int)i;
  return -1;
}

int cap_last_cap(sk_error_t *err) {
  cleanup_free char *buf = NULL;
  if (read_file_at(AT_FDCWD, "/proc/sys/kernel/cap_last_cap", 64, &buf, NULL, err) < 0)
    return -1;
  long long v;
  if (!parse_int64(strtok(buf, "\n"), &v) || v < 0 || v > 63)
    return sk_error_set(err, EINVAL, "unexpected /proc/sys/kernel/cap_last_cap `%s`", buf);
  return (int)v;
}

static int drop_bounding(uint64_t keep, int last_cap, sk_error_t *err) {
  for (int c = 0; c <= last_cap; c++) {
    if (keep & (1ULL << c))
      continue;
    if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
      return sk_error_errno(err, "drop_privileges: drop %s from the bounding set",
                            c < (int)SK_ARRAY_SIZE(cap_names) ? cap_names[c] : "capability");
  }
  return 0;
}

static int set_ids(const sk_process_t *p, sk_error_t *err) {
  if (setgroups(p->n_additional_gids, p->additional_gids) < 0)
    return sk_error_errno(err, "drop_privileges: setgroups");
  if (setresgid(p->gid, p->gid, p->gid) < 0)
    return sk_error_errno(err, "drop_privileges: setgid %u", (unsigned)p->gid);
  if (setresuid(p->uid, p->uid, p->uid) < 0)
    return sk_error_errno(err, "drop_privileges: setuid %u", (unsigned)p->uid);
  return 0;
}

static int set_caps(const sk_caps_t *c, sk_error_t *err) {
  struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct d[2] = {
      {(uint32_t)c->effective, (uint32_t)c->permitted, (uint32_t)c->inheritable},
      {(uint32_t)(c->effective >> 32), (uint32_t)(c->permitted >> 32), (uint32_t)(c->inheritable >> 32)},
  };
  if (syscall(SYS_capset, &h, d) < 0)
    return sk_error_errno(err, "drop_privileges: capset");
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return sk_error_errno(err, "drop_privileges: clear ambient capabilities");
  for (int i = 0; i < 64; i++)
    if ((c->ambient & (1ULL << i)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, i, 0, 0) < 0)
      return sk_error_errno(err, "drop_privileges: raise ambient %s", i < (int)SK_ARRAY_SIZE(cap_names) ? cap_names[i] : "capability");
  return 0;
}

int drop_privileges(const sk_process_t *p, int last_cap, sk_error_t *err) {
  /* no_new_privs first: nothing below can be undone by a setuid binary afterwards. */
  if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return sk_error_errno(err, "drop_privileges: prctl(PR_SET_NO_NEW_PRIVS)");
  /* The bounding set needs CAP_SETPCAP, so it goes before capset. */
  if (drop_bounding(p->caps.bounding, last_cap, err) < 0)
    return -1;
  /* Keep the permitted set across setuid; capset then trims it to what the spec asks. */
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    return sk_error_errno(err, "drop_privileges: prctl(PR_SET_KEEPCAPS)");
  if (set_ids(p, err) < 0)
    return -1;
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
    return sk_error_errno(err, "drop_privileges: prctl(PR_SET_KEEPCAPS)");
  return set_caps(&p->caps, err);
}
