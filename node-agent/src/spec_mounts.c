/* config.json `mounts` → sk_mount_t: mount types and options of the supported subset. */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include "spec_internal.h"
#include "util.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

static const struct {
  const char *name;
  bool clear;
  unsigned long flag;
} flag_opts[] = {
    {"ro", false, MS_RDONLY},          {"rw", true, MS_RDONLY},
    {"nosuid", false, MS_NOSUID},      {"suid", true, MS_NOSUID},
    {"nodev", false, MS_NODEV},        {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC},      {"exec", true, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},   {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},    {"noatime", false, MS_NOATIME},
    {"atime", true, MS_NOATIME},       {"nodiratime", false, MS_NODIRATIME},
    {"diratime", true, MS_NODIRATIME}, {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME}, {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME}, {"lazytime", false, MS_LAZYTIME},
    {"nosymfollow", false, MS_NOSYMFOLLOW}, {"silent", false, MS_SILENT},
    {"defaults", false, 0},
};

static const struct {
  const char *name;
  unsigned long flags;
} propagation_opts[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},       {"shared", MS_SHARED},
    {"rshared", MS_SHARED | MS_REC}, {"slave", MS_SLAVE},                    {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

static const struct {
  sk_mount_kind_t kind;
  const char *type;
  const char *data_keys; /* filesystem options this type accepts, space-separated */
} kinds[] = {
    {SK_MOUNT_PROC, "proc", "hidepid subset"},
    {SK_MOUNT_TMPFS, "tmpfs", "size mode nr_inodes nr_blocks uid gid huge"},
    {SK_MOUNT_DEVPTS, "devpts", "newinstance ptmxmode mode gid uid max"},
    {SK_MOUNT_MQUEUE, "mqueue", ""},
    {SK_MOUNT_SYSFS, "sysfs", ""},
    {SK_MOUNT_CGROUP, "cgroup", ""},
    {SK_MOUNT_CGROUP, "cgroup2", ""},
    {SK_MOUNT_BIND, "bind", ""},
    {SK_MOUNT_BIND, "none", ""},
};

static bool flag_option(const char *o, sk_mount_t *m) {
  for (size_t i = 0; i < SK_ARRAY_SIZE(flag_opts); i++) {
    if (strcmp(flag_opts[i].name, o) != 0)
      continue;
    if (flag_opts[i].clear) {
      m->flags &= ~flag_opts[i].flag;
      m->clear_flags |= flag_opts[i].flag;
    } else {
      m->flags |= flag_opts[i].flag;
      m->clear_flags &= ~flag_opts[i].flag;
    }
    return true;
  }
  for (size_t i = 0; i < SK_ARRAY_SIZE(propagation_opts); i++) {
    if (strcmp(propagation_opts[i].name, o) == 0) {
      m->propagation = propagation_opts[i].flags;
      return true;
    }
  }
  return false;
}

static bool data_key_ok(const char *keys, const char *o) {
  size_t klen = strcspn(o, "=");
  for (const char *k = keys; *k != '\0';) {
    size_t n = strcspn(k, " ");
    if (n == klen && strncmp(k, o, n) == 0)
      return true;
    k += n + (k[n] == ' ');
  }
  return false;
}

static int parse_options(const sk_json_t *v, const char *w, sk_mount_t *m, const char *data_keys, sk_error_t *err) {
  cleanup_strv char **opts = NULL;
  if (spec_strv(v, "options", w, &opts, err) < 0)
    return -1;
  cleanup_free char *data = xstrdup("");
  for (size_t i = 0; opts[i] != NULL; i++) {
    const char *o = opts[i];
    if (strcmp(o, "bind") == 0 || strcmp(o, "rbind") == 0) {
      if (m->kind != SK_MOUNT_BIND)
        return sk_error_set(err, EINVAL, "config.json: `%s.options[%zu]`: `%s` on a `%s` mount", w, i, o, m->type);
      m->recursive = o[0] == 'r';
    } else if (flag_option(o, m)) {
      continue;
    } else if (m->kind != SK_MOUNT_BIND && data_key_ok(data_keys, o) && strchr(o, ',') == NULL) {
      char *prev = data;
      data = xasprintf("%s%s%s", prev, *prev ? "," : "", o);
      free(prev);
    } else {
      return sk_error_set(err, EOPNOTSUPP, "config.json: `%s.options[%zu]`: mount option `%s` is not supported for type `%s`", w, i, o, m->type);
    }
  }
  if (*data != '\0')
    m->data = steal_pointer(&data);
  return 0;
}

/* Type "bind", "none" (with bind/rbind) and a missing type with bind/rbind are all bind mounts. */
static int mount_kind(const sk_json_t *v, const char *w, sk_mount_t *m, const char **data_keys, sk_error_t *err) {
  cleanup_strv char **opts = NULL;
  if (spec_strv(v, "options", w, &opts, err) < 0)
    return -1;
  bool bind_opt = false;
  for (size_t i = 0; opts[i] != NULL; i++)
    bind_opt |= strcmp(opts[i], "bind") == 0 || strcmp(opts[i], "rbind") == 0;
  if (m->type == NULL || m->type[0] == '\0') {
    free(m->type);
    m->type = xstrdup(bind_opt ? "bind" : "");
  }
  for (size_t i = 0; i < SK_ARRAY_SIZE(kinds); i++) {
    if (strcmp(kinds[i].type, m->type) == 0) {
      m->kind = kinds[i].kind;
      *data_keys = kinds[i].data_keys;
    }
  }
  if (m->kind == 0)
    return sk_error_set(err, EOPNOTSUPP, "config.json: `%s.type`: mount type `%s` is not supported", w, m->type);
  if (m->kind == SK_MOUNT_BIND && !bind_opt)
    return sk_error_set(err, EINVAL, "config.json: `%s`: a `%s` mount needs the `bind` or `rbind` option", w, m->type);
  return 0;
}

static int parse_mount(const sk_json_t *v, const char *w, const char *bundle, sk_mount_t *m, sk_error_t *err) {
  static const char *const keys[] = {"destination", "type", "source", "options", NULL};
  if (spec_want(v, SK_JSON_OBJECT, w, err) < 0 || spec_check_keys(v, w, keys, err) < 0)
    return -1;
  cleanup_free char *source = NULL;
  if (spec_string(v, "destination", w, &m->destination, err) < 0 || spec_string(v, "type", w, &m->type, err) < 0 ||
      spec_string(v, "source", w, &source, err) < 0)
    return -1;
  if (m->destination == NULL)
    return sk_error_set(err, EINVAL, "config.json: `%s.destination` is required", w);
  char wd[SPEC_W];
  spec_field(wd, "%s.destination", w);
  if (spec_container_path(m->destination, wd, err) < 0)
    return -1;
  const char *data_keys = "";
  if (mount_kind(v, w, m, &data_keys, err) < 0 || parse_options(v, w, m, data_keys, err) < 0)
    return -1;
  if (m->kind == SK_MOUNT_SYSFS && !(m->flags & MS_RDONLY))
    return sk_error_set(err, EOPNOTSUPP, "config.json: `%s`: sysfs is only mounted read-only (add the `ro` option)", w);
  if (m->kind == SK_MOUNT_BIND) {
    if (source == NULL || source[0] == '\0')
      return sk_error_set(err, EINVAL, "config.json: `%s.source` is required for a bind mount", w);
    m->source = spec_bundle_path(bundle, source);
  } else {
    m->source = steal_pointer(&source);
  }
  return 0;
}

int spec_parse_mounts(const sk_json_t *v, sk_config_t *cfg, sk_error_t *err) {
  if (v == NULL || v->type == SK_JSON_NULL)
    return 0;
  if (spec_want(v, SK_JSON_ARRAY, "mounts", err) < 0)
    return -1;
  cfg->mounts = xcalloc(v->u.array.n, sizeof(sk_mount_t));
  for (size_t i = 0; i < v->u.array.n; i++) {
    char w[SPEC_W];
    spec_field(w, "mounts[%zu]", i);
    cfg->n_mounts++; /* counted first so a half-parsed entry is freed too */
    if (parse_mount(&v->u.array.items[i], w, cfg->bundle, &cfg->mounts[i], err) < 0)
      return -1;
    if (cfg->mounts[i].kind == SK_MOUNT_CGROUP && !(cfg->clone_flags & CLONE_NEWCGROUP))
      return sk_error_set(err, EINVAL, "config.json: `%s`: a cgroup mount needs a new `cgroup` namespace", w);
  }
  return 0;
}
