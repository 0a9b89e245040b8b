/* config.json → sk_config_t: the top level, root, process and annotations. Everything outside
 * the supported subset is refused with an error naming the field. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include "caps.h"
#include "spec_internal.h"
#include "util.h"

static const struct {
  const char *name;
  int resource;
} rlimit_names[] = {
    {"RLIMIT_AS", RLIMIT_AS},         {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},     {"RLIMIT_FSIZE", RLIMIT_FSIZE},       {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE}, {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO}, {"RLIMIT_RTTIME", RLIMIT_RTTIME},     {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

static int parse_user(const sk_json_t *u, const char *where, sk_process_t *p, sk_error_t *err) {
  static const char *const keys[] = {"uid", "gid", "umask", "additionalGids", "username", NULL};
  char w[SPEC_W];
  spec_field(w, "%s.user", where);
  if (spec_want(u, SK_JSON_OBJECT, w, err) < 0 || spec_check_keys(u, w, keys, err) < 0)
    return -1;
  if (spec_only_empty(u, "username", w, "it applies to Windows only; use uid/gid", err) < 0)
    return -1;
  uint32_t uid = 0, gid = 0, umask = 0;
  if (spec_u32(u, "uid", w, NULL, &uid, err) < 0 || spec_u32(u, "gid", w, NULL, &gid, err) < 0 ||
      spec_u32(u, "umask", w, &p->has_umask, &umask, err) < 0)
    return -1;
  if (p->has_umask && umask > 0777)
    return sk_error_set(err, EINVAL, "config.json: `%s.umask` must be at most 0777", w);
  p->uid = uid;
  p->gid = gid;
  p->umask = umask;
  const sk_json_t *g = json_get(u, "additionalGids");
  if (g == NULL || g->type == SK_JSON_NULL)
    return 0;
  char wg[SPEC_W];
  spec_field(wg, "%s.additionalGids", w);
  if (spec_want(g, SK_JSON_ARRAY, wg, err) < 0)
    return -1;
  p->additional_gids = xcalloc(g->u.array.n, sizeof(gid_t));
  for (size_t i = 0; i < g->u.array.n; i++) {
    uint64_t v;
    if (!json_uint64(&g->u.array.items[i], &v) || v > UINT32_MAX)
      return sk_error_set(err, EINVAL, "config.json: `%s[%zu]` must be a gid (0..4294967295)", wg, i);
    p->additional_gids[p->n_additional_gids++] = (gid_t)v;
  }
  return 0;
}

static int parse_cap_set(const sk_json_t *c, const char *key, const char *where, uint64_t *out, sk_error_t *err) {
  cleanup_strv char **names = NULL;
  if (spec_strv(c, key, where, &names, err) < 0)
    return -1;
  for (size_t i = 0; names[i] != NULL; i++) {
    int cap = cap_from_name(names[i]);
    if (cap < 0)
      return sk_error_set(err, EINVAL, "config.json: `%s.%s[%zu]`: unknown capability `%s`", where, key, i, names[i]);
    *out |= 1ULL << cap;
  }
  return 0;
}

static int parse_caps(const sk_json_t *c, const char *where, sk_caps_t *caps, sk_error_t *err) {
  static const char *const keys[] = {"bounding", "effective", "inheritable", "permitted", "ambient", NULL};
  char w[SPEC_W];
  spec_field(w, "%s.capabilities", where);
  if (spec_want(c, SK_JSON_OBJECT, w, err) < 0 || spec_check_keys(c, w, keys, err) < 0)
    return -1;
  if (parse_cap_set(c, "bounding", w, &caps->bounding, err) < 0 || parse_cap_set(c, "effective", w, &caps->effective, err) < 0 ||
      parse_cap_set(c, "inheritable", w, &caps->inheritable, err) < 0 || parse_cap_set(c, "permitted", w, &caps->permitted, err) < 0 ||
      parse_cap_set(c, "ambient", w, &caps->ambient, err) < 0)
    return -1;
  /* Without a device cgroup, mknod is what would open the host's disks to the sandbox. */
  uint64_t all = caps->bounding | caps->effective | caps->inheritable | caps->permitted | caps->ambient;
  if (all & (1ULL << cap_from_name("CAP_MKNOD")))
    return sk_error_set(err, EOPNOTSUPP, "config.json: `%s`: CAP_MKNOD is not supported (no device cgroup; the sandbox gets the default device set)", w);
  if ((caps->ambient & ~(caps->permitted & caps->inheritable)) != 0)
    return sk_error_set(err, EINVAL, "config.json: `%s.ambient` may only hold capabilities that are both permitted and inheritable", w);
  return 0;
}

static int parse_rlimit(const sk_json_t *r, const char *w, sk_rlimit_t *out, sk_error_t *err) {
  static const char *const keys[] = {"type", "soft", "hard", NULL};
  if (spec_want(r, SK_JSON_OBJECT, w, err) < 0 || spec_check_keys(r, w, keys, err) < 0)
    return -1;
  cleanup_free char *type = NULL;
  bool has_soft = false, has_hard = false;
  if (spec_string(r, "type", w, &type, err) < 0 || spec_u64(r, "soft", w, &has_soft, &out->soft, err) < 0 ||
      spec_u64(r, "hard", w, &has_hard, &out->hard, err) < 0)
    return -1;
  if (type == NULL || !has_soft || !has_hard)
    return sk_error_set(err, EINVAL, "config.json: `%s` needs type, soft and hard", w);
  out->resource = -1;
  for (size_t k = 0; k < SK_ARRAY_SIZE(rlimit_names); k++)
    if (strcmp(rlimit_names[k].name, type) == 0)
      out->resource = rlimit_names[k].resource;
  if (out->resource < 0)
    return sk_error_set(err, EINVAL, "config.json: `%s.type`: unknown rlimit `%s`", w, type);
  if (out->soft > out->hard)
    return sk_error_set(err, EINVAL, "config.json: `%s`: soft limit above the hard limit", w);
  return 0;
}

static int parse_rlimits(const sk_json_t *v, const char *where, sk_process_t *p, sk_error_t *err) {
  char w[SPEC_W];
  spec_field(w, "%s.rlimits", where);
  if (spec_want(v, SK_JSON_ARRAY, w, err) < 0)
    return -1;
  p->rlimits = xcalloc(v->u.array.n, sizeof(sk_rlimit_t));
  for (size_t i = 0; i < v->u.array.n; i++) {
    char wi[SPEC_W];
    spec_field(wi, "%s[%zu]", w, i);
    if (parse_rlimit(&v->u.array.items[i], wi, &p->rlimits[i], err) < 0)
      return -1;
    for (size_t j = 0; j < i; j++)
      if (p->rlimits[j].resource == p->rlimits[i].resource)
        return sk_error_set(err, EINVAL, "config.json: `%s`: duplicate rlimit type", wi);
    p->n_rlimits++;
  }
  return 0;
}

static int check_args_env(sk_process_t *p, const char *where, sk_error_t *err) {
  if (p->args == NULL || p->args[0] == NULL || p->args[0][0] == '\0')
    return sk_error_set(err, EINVAL, "config.json: `%s.args` must be a non-empty array of strings", where);
  for (size_t i = 0; p->env[i] != NULL; i++)
    if (strchr(p->env[i], '=') == NULL || p->env[i][0] == '=')
      return sk_error_set(err, EINVAL, "config.json: `%s.env[%zu]` must be KEY=VALUE, got `%s`", where, i, p->env[i]);
  if (p->cwd == NULL)
    return sk_error_set(err, EINVAL, "config.json: `%s.cwd` is required", where);
  char w[SPEC_W];
  spec_field(w, "%s.cwd", where);
  return spec_container_path(p->cwd, w, err);
}

static int parse_process_refusals(const sk_json_t *v, const char *where, sk_error_t *err) {
  bool terminal = false;
  if (spec_bool(v, "terminal", where, &terminal, err) < 0)
    return -1;
  if (terminal)
    return sk_error_set(err, EOPNOTSUPP, "config.json: `%s.terminal`: true is not supported (no console; run a PTY inside the sandbox)", where);
  if (spec_only_empty(v, "apparmorProfile", where, "no AppArmor support", err) < 0 ||
      spec_only_empty(v, "selinuxLabel", where, "no SELinux support", err) < 0)
    return -1;
  return 0;
}

int spec_parse_process(const sk_json_t *v, const char *where, sk_process_t *p, sk_error_t *err) {
  static const char *const keys[] = {"terminal", "consoleSize", "user", "args", "env", "cwd", "capabilities", "rlimits",
                                     "noNewPrivileges", "apparmorProfile", "oomScoreAdj", "selinuxLabel", NULL};
  if (spec_want(v, SK_JSON_OBJECT, where, err) < 0 || spec_check_keys(v, where, keys, err) < 0)
    return -1;
  if (parse_process_refusals(v, where, err) < 0)
    return -1;
  if (spec_strv(v, "args", where, &p->args, err) < 0 || spec_strv(v, "env", where, &p->env, err) < 0 ||
      spec_string(v, "cwd", where, &p->cwd, err) < 0 || spec_bool(v, "noNewPrivileges", where, &p->no_new_privileges, err) < 0)
    return -1;
  if (check_args_env(p, where, err) < 0)
    return -1;
  const sk_json_t *u = json_get(v, "user"), *c = json_get(v, "capabilities"), *r = json_get(v, "rlimits");
  if (u != NULL && u->type != SK_JSON_NULL && parse_user(u, where, p, err) < 0)
    return -1;
  if (c != NULL && c->type != SK_JSON_NULL && parse_caps(c, where, &p->caps, err) < 0)
    return -1;
  if (r != NULL && r->type != SK_JSON_NULL && parse_rlimits(r, where, p, err) < 0)
    return -1;
  int64_t adj = 0;
  if (spec_i64(v, "oomScoreAdj", where, &p->has_oom_score_adj, &adj, err) < 0)
    return -1;
  if (adj < -1000 || adj > 1000)
    return sk_error_set(err, EINVAL, "config.json: `%s.oomScoreAdj` must be in -1000..1000", where);
  p->oom_score_adj = (int)adj;
  return 0;
}

static int parse_root(const sk_json_t *v, sk_config_t *cfg, sk_error_t *err) {
  static const char *const keys[] = {"path", "readonly", NULL};
  if (v == NULL || v->type == SK_JSON_NULL)
    return sk_error_set(err, EINVAL, "config.json: `root` is required");
  if (spec_want(v, SK_JSON_OBJECT, "root", err) < 0 || spec_check_keys(v, "root", keys, err) < 0)
    return -1;
  cleanup_free char *path = NULL;
  if (spec_string(v, "path", "root", &path, err) < 0 || spec_bool(v, "readonly", "root", &cfg->root_readonly, err) < 0)
    return -1;
  if (path == NULL || path[0] == '\0')
    return sk_error_set(err, EINVAL, "config.json: `root.path` is required");
  cfg->root_path = spec_bundle_path(cfg->bundle, path);
  return 0;
}

static int overlay_dir(const sk_config_t *cfg, const char *key, const char *value, char **out, sk_error_t *err) {
  if (value[0] == '\0' || strchr(value, ',') != NULL)
    return sk_error_set(err, EINVAL, "config.json: annotation `%s`: empty or contains `,`", key);
  *out = spec_bundle_path(cfg->bundle, value);
  return 0;
}

static int parse_overlay_annotation(sk_config_t *cfg, const char *key, const char *value, sk_error_t *err) {
  if (strcmp(key, "sandkasten.dev/overlay.upperdir") == 0)
    return overlay_dir(cfg, key, value, &cfg->overlay.upperdir, err);
  if (strcmp(key, "sandkasten.dev/overlay.workdir") == 0)
    return overlay_dir(cfg, key, value, &cfg->overlay.workdir, err);
  if (strcmp(key, "sandkasten.dev/overlay.lowerdirs") != 0)
    return sk_error_set(err, EOPNOTSUPP, "config.json: unsupported annotation `%s` (known: sandkasten.dev/overlay.lowerdirs, "
                                         "sandkasten.dev/overlay.upperdir, sandkasten.dev/overlay.workdir)", key);
  /* Each layer made absolute against the bundle, then joined again. */
  cleanup_free char *copy = xstrdup(value), *joined = xstrdup("");
  char *save = NULL;
  for (char *tok = strtok_r(copy, ":", &save); tok != NULL; tok = strtok_r(NULL, ":", &save)) {
    cleanup_free char *abs = NULL;
    if (overlay_dir(cfg, key, tok, &abs, err) < 0)
      return -1;
    char *next = xasprintf("%s%s%s", joined, *joined ? ":" : "", abs);
    free(joined);
    joined = next;
  }
  if (*joined == '\0')
    return sk_error_set(err, EINVAL, "config.json: annotation `%s` names no directory", key);
  cfg->overlay.lowerdirs = steal_pointer(&joined);
  return 0;
}

static int parse_annotations(const sk_json_t *v, sk_config_t *cfg, sk_error_t *err) {
  if (v == NULL || v->type == SK_JSON_NULL)
    return 0;
  if (spec_want(v, SK_JSON_OBJECT, "annotations", err) < 0)
    return -1;
  cfg->annotations = xcalloc(v->u.object.n, sizeof(sk_annotation_t));
  for (size_t i = 0; i < v->u.object.n; i++) {
    const sk_json_member_t *m = &v->u.object.members[i];
    if (m->value.type != SK_JSON_STRING)
      return sk_error_set(err, EINVAL, "config.json: annotation `%s` must be a string", m->key);
    cfg->annotations[i].key = xstrdup(m->key);
    cfg->annotations[i].value = xstrdup(m->value.u.string.s);
    cfg->n_annotations++;
    if (strncmp(m->key, "sandkasten.dev/", 15) == 0 && parse_overlay_annotation(cfg, m->key, m->value.u.string.s, err) < 0)
      return -1;
  }
  if (cfg->overlay.lowerdirs == NULL && (cfg->overlay.upperdir != NULL || cfg->overlay.workdir != NULL))
    return sk_error_set(err, EINVAL, "config.json: annotation `sandkasten.dev/overlay.lowerdirs` is required with upperdir/workdir");
  if ((cfg->overlay.upperdir == NULL) != (cfg->overlay.workdir == NULL))
    return sk_error_set(err, EINVAL, "config.json: annotations `sandkasten.dev/overlay.upperdir` and `sandkasten.dev/overlay.workdir` go together");
  return 0;
}

static int parse_version(const sk_json_t *doc, sk_config_t *cfg, sk_error_t *err) {
  if (spec_string(doc, "ociVersion", "", &cfg->oci_version, err) < 0)
    return -1;
  if (cfg->oci_version == NULL)
    return sk_error_set(err, EINVAL, "config.json: `ociVersion` is required");
  if (strncmp(cfg->oci_version, "1.", 2) != 0)
    return sk_error_set(err, EOPNOTSUPP, "config.json: `ociVersion` %s is not supported (need 1.x)", cfg->oci_version);
  return 0;
}

static int parse_top(const sk_json_t *doc, sk_config_t *cfg, sk_error_t *err) {
  static const char *const keys[] = {"ociVersion", "process", "root", "hostname", "domainname", "mounts", "linux", "annotations", "hooks", NULL};
  if (spec_want(doc, SK_JSON_OBJECT, "(document)", err) < 0 || spec_check_keys(doc, "", keys, err) < 0)
    return -1;
  if (parse_version(doc, cfg, err) < 0 || parse_root(json_get(doc, "root"), cfg, err) < 0)
    return -1;
  if (spec_only_empty(doc, "hooks", "", "hooks are never run", err) < 0)
    return -1;
  const sk_json_t *proc = json_get(doc, "process");
  if (proc == NULL || proc->type == SK_JSON_NULL)
    return sk_error_set(err, EINVAL, "config.json: `process` is required");
  if (spec_parse_process(proc, "process", &cfg->process, err) < 0)
    return -1;
  if (spec_string(doc, "hostname", "", &cfg->hostname, err) < 0 || spec_string(doc, "domainname", "", &cfg->domainname, err) < 0)
    return -1;
  if (parse_annotations(json_get(doc, "annotations"), cfg, err) < 0)
    return -1;
  const sk_json_t *linux_ = json_get(doc, "linux");
  if (linux_ == NULL || linux_->type == SK_JSON_NULL)
    return sk_error_set(err, EINVAL, "config.json: `linux` is required");
  if (spec_parse_linux(linux_, cfg, err) < 0)
    return -1;
  return spec_parse_mounts(json_get(doc, "mounts"), cfg, err);
}

int config_parse(const char *json, size_t len, const char *bundle, sk_config_t *cfg, sk_error_t *err) {
  memset(cfg, 0, sizeof *cfg);
  cfg->bundle = xstrdup(bundle);
  sk_json_t doc = {0};
  if (json_parse(json, len, &doc, err) < 0) {
    sk_error_wrap(err, "config.json");
    config_free(cfg);
    return -1;
  }
  int r = parse_top(&doc, cfg, err);
  json_free(&doc);
  if (r < 0)
    config_free(cfg);
  return r;
}

int config_load(const char *bundle, sk_config_t *cfg, sk_error_t *err) {
  cleanup_free char *path = xasprintf("%s/config.json", bundle), *buf = NULL;
  size_t len = 0;
  if (read_file_at(AT_FDCWD, path, 16u << 20, &buf, &len, err) < 0)
    return -1;
  return config_parse(buf, len, bundle, cfg, err);
}

int config_parse_process_json(const char *json, size_t len, sk_process_t *proc, sk_error_t *err) {
  memset(proc, 0, sizeof *proc);
  sk_json_t doc = {0};
  if (json_parse(json, len, &doc, err) < 0)
    return sk_error_wrap(err, "process.json");
  int r = spec_parse_process(&doc, "process", proc, err);
  json_free(&doc);
  if (r < 0)
    config_free_process(proc);
  return r;
}

void config_free_process(sk_process_t *p) {
  strvfreep(&p->args);
  strvfreep(&p->env);
  free(p->cwd);
  free(p->additional_gids);
  free(p->rlimits);
  memset(p, 0, sizeof *p);
}

void config_free(sk_config_t *cfg) {
  free(cfg->oci_version);
  free(cfg->bundle);
  config_free_process(&cfg->process);
  free(cfg->root_path);
  free(cfg->hostname);
  free(cfg->domainname);
  for (size_t i = 0; i < cfg->n_mounts; i++) {
    free(cfg->mounts[i].destination);
    free(cfg->mounts[i].type);
    free(cfg->mounts[i].source);
    free(cfg->mounts[i].data);
  }
  free(cfg->mounts);
  for (size_t i = 0; i < cfg->n_namespaces; i++)
    free(cfg->namespaces[i].path);
  free(cfg->uid_mappings);
  free(cfg->gid_mappings);
  free(cfg->cgroups_path);
  spec_free_seccomp(&cfg->seccomp);
  strvfreep(&cfg->masked_paths);
  strvfreep(&cfg->readonly_paths);
  for (size_t i = 0; i < cfg->n_annotations; i++) {
    free(cfg->annotations[i].key);
    free(cfg->annotations[i].value);
  }
  free(cfg->annotations);
  free(cfg->overlay.lowerdirs);
  free(cfg->overlay.upperdir);
  free(cfg->overlay.workdir);
  memset(cfg, 0, sizeof *cfg);
}
