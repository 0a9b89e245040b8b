/* config.json `linux`: namespaces, id mappings, resources, cgroupsPath, masked and read-only
 * paths (seccomp is in spec_seccomp.c). */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include "spec_internal.h"
#include "util.h"

static const struct {
  const char *name;
  int flag;
} ns_names[] = {
    {"pid", CLONE_NEWPID}, {"network", CLONE_NEWNET}, {"mount", CLONE_NEWNS},     {"ipc", CLONE_NEWIPC},
    {"uts", CLONE_NEWUTS}, {"user", CLONE_NEWUSER},   {"cgroup", CLONE_NEWCGROUP},
};

static int parse_namespace(const sk_json_t *v, const char *w, sk_config_t *cfg, sk_error_t *err) {
  static const char *const keys[] = {"type", "path", NULL};
  if (spec_want(v, SK_JSON_OBJECT, w, err) < 0 || spec_check_keys(v, w, keys, err) < 0)
    return -1;
  cleanup_free char *type = NULL, *path = NULL;
  if (spec_string(v, "type", w, &type, err) < 0 || spec_string(v, "path", w, &path, err) < 0)
    return -1;
  if (type == NULL)
    return sk_error_set(err, EINVAL, "config.json: `%s.type` is required", w);
  int flag = 0;
  for (size_t i = 0; i < SK_ARRAY_SIZE(ns_names); i++)
    if (strcmp(ns_names[i].name, type) == 0)
      flag = ns_names[i].flag;
  if (flag == 0)
    return sk_error_set(err, EOPNOTSUPP, "config.json: `%s.type`: namespace type `%s` is not supported", w, type);
  for (size_t i = 0; i < cfg->n_namespaces; i++)
    if (cfg->namespaces[i].type == flag)
      return sk_error_set(err, EINVAL, "config.json: `%s`: duplicate namespace `%s`", w, type);
  if (path != NULL && path[0] == '\0')
    path = (free(path), NULL);
  if (path != NULL && path[0] != '/')
    return sk_error_set(err, EINVAL, "config.json: `%s.path` must be absolute", w);
  if (path != NULL && (flag == CLONE_NEWNS || flag == CLONE_NEWUSER))
    return sk_error_set(err, EOPNOTSUPP, "config.json: `%s.path`: joining an existing %s namespace is not supported", w, type);
  cfg->namespaces[cfg->n_namespaces].type = flag;
  cfg->namespaces[cfg->n_namespaces].path = steal_pointer(&path);
  cfg->n_namespaces++;
  if (cfg->namespaces[cfg->n_namespaces - 1].path == NULL)
    cfg->clone_flags |= flag;
  return 0;
}

static int parse_namespaces(const sk_json_t *v, sk_config_t *cfg, sk_error_t *err) {
  if (v == NULL || v->type == SK_JSON_NULL || spec_want(v, SK_JSON_ARRAY, "linux.namespaces", err) < 0)
    return v == NULL || v->type == SK_JSON_NULL ? sk_error_set(err, EINVAL, "config.json: `linux.namespaces` is required") : -1;
  if (v->u.array.n > SK_MAX_NAMESPACES)
    return sk_error_set(err, EINVAL, "config.json: `linux.namespaces`: too many entries");
  for (size_t i = 0; i < v->u.array.n; i++) {
    char w[SPEC_W];
    spec_field(w, "linux.namespaces[%zu]", i);
    if (parse_namespace(&v->u.array.items[i], w, cfg, err) < 0)
      return -1;
  }
  /* pivot_root and every mount below need a mount namespace of our own. */
  if (!(cfg->clone_flags & CLONE_NEWNS))
    return sk_error_set(err, EINVAL, "config.json: `linux.namespaces` must include a new `mount` namespace");
  return 0;
}

static int parse_id_maps(const sk_json_t *linux_, const char *key, sk_id_map_t **out, size_t *n, sk_error_t *err) {
  static const char *const keys[] = {"containerID", "hostID", "size", NULL};
  const sk_json_t *v = json_get(linux_, key);
  char w[SPEC_W];
  spec_field(w, "linux.%s", key);
  if (v == NULL || v->type == SK_JSON_NULL)
    return 0;
  if (spec_want(v, SK_JSON_ARRAY, w, err) < 0)
    return -1;
  *out = xcalloc(v->u.array.n, sizeof(sk_id_map_t));
  for (size_t i = 0; i < v->u.array.n; i++) {
    char wi[SPEC_W];
    spec_field(wi, "%s[%zu]", w, i);
    const sk_json_t *m = &v->u.array.items[i];
    bool h1 = false, h2 = false, h3 = false;
    sk_id_map_t *e = &(*out)[i];
    if (spec_want(m, SK_JSON_OBJECT, wi, err) < 0 || spec_check_keys(m, wi, keys, err) < 0 ||
        spec_u32(m, "containerID", wi, &h1, &e->container_id, err) < 0 || spec_u32(m, "hostID", wi, &h2, &e->host_id, err) < 0 ||
        spec_u32(m, "size", wi, &h3, &e->size, err) < 0)
      return -1;
    if (!h1 || !h2 || !h3 || e->size == 0)
      return sk_error_set(err, EINVAL, "config.json: `%s` needs containerID, hostID and a non-zero size", wi);
    (*n)++;
  }
  return 0;
}

static int check_user_ns(const sk_config_t *cfg, sk_error_t *err) {
  bool new_user = cfg->clone_flags & CLONE_NEWUSER;
  if (!new_user && (cfg->n_uid_mappings || cfg->n_gid_mappings))
    return sk_error_set(err, EINVAL, "config.json: `linux.uidMappings`/`gidMappings` need a new `user` namespace");
  if (new_user && (!cfg->n_uid_mappings || !cfg->n_gid_mappings))
    return sk_error_set(err, EINVAL, "config.json: a new `user` namespace needs `linux.uidMappings` and `linux.gidMappings`");
  bool uts = false;
  for (size_t i = 0; i < cfg->n_namespaces; i++)
    uts |= cfg->namespaces[i].type == CLONE_NEWUTS;
  if ((cfg->hostname != NULL || cfg->domainname != NULL) && !uts)
    return sk_error_set(err, EINVAL, "config.json: `hostname` needs a `uts` namespace");
  return 0;
}

static int parse_memory(const sk_json_t *m, sk_resources_t *r, sk_error_t *err) {
  static const char *const keys[] = {"limit", "swap", NULL};
  const char *w = "linux.resources.memory";
  if (spec_want(m, SK_JSON_OBJECT, w, err) < 0 || spec_check_keys(m, w, keys, err) < 0)
    return -1;
  if (spec_i64(m, "limit", w, &r->has_memory_limit, &r->memory_limit, err) < 0 ||
      spec_i64(m, "swap", w, &r->has_memory_swap, &r->memory_swap, err) < 0)
    return -1;
  if ((r->has_memory_limit && r->memory_limit < -1) || (r->has_memory_swap && r->memory_swap < -1))
    return sk_error_set(err, EINVAL, "config.json: `%s`: limits must be -1 (unlimited) or a byte count", w);
  if (r->has_memory_swap && r->memory_swap != -1 && (!r->has_memory_limit || r->memory_limit == -1 || r->memory_swap < r->memory_limit))
    return sk_error_set(err, EINVAL, "config.json: `%s.swap` (memory+swap) must be at least `limit`", w);
  return 0;
}

static int parse_cpu(const sk_json_t *c, sk_resources_t *r, sk_error_t *err) {
  static const char *const keys[] = {"shares", "quota", "period", "cpus", "mems", NULL};
  const char *w = "linux.resources.cpu";
  if (spec_want(c, SK_JSON_OBJECT, w, err) < 0 || spec_check_keys(c, w, keys, err) < 0)
    return -1;
  if (spec_only_empty(c, "cpus", w, "cpusets are not supported", err) < 0 || spec_only_empty(c, "mems", w, "cpusets are not supported", err) < 0)
    return -1;
  if (spec_u64(c, "shares", w, &r->has_cpu_shares, &r->cpu_shares, err) < 0 || spec_i64(c, "quota", w, &r->has_cpu_quota, &r->cpu_quota, err) < 0 ||
      spec_u64(c, "period", w, &r->has_cpu_period, &r->cpu_period, err) < 0)
    return -1;
  if (r->has_cpu_quota && r->cpu_quota < -1)
    return sk_error_set(err, EINVAL, "config.json: `%s.quota` must be -1 or positive", w);
  if (r->has_cpu_period && (r->cpu_period < 1000 || r->cpu_period > 1000000))
    return sk_error_set(err, EINVAL, "config.json: `%s.period` must be in 1000..1000000 µs", w);
  return 0;
}

static int parse_resources(const sk_json_t *v, sk_config_t *cfg, sk_error_t *err) {
  static const char *const keys[] = {"memory", "cpu", "pids", "devices", NULL};
  const char *w = "linux.resources";
  if (v == NULL || v->type == SK_JSON_NULL)
    return 0;
  if (spec_want(v, SK_JSON_OBJECT, w, err) < 0 || spec_check_keys(v, w, keys, err) < 0)
    return -1;
  if (spec_only_empty(v, "devices", w, "no device cgroup rules; the sandbox gets the default device set only", err) < 0)
    return -1;
  cfg->has_resources = true;
  sk_resources_t *r = &cfg->resources;
  const sk_json_t *m = json_get(v, "memory"), *c = json_get(v, "cpu"), *p = json_get(v, "pids");
  if (m != NULL && m->type != SK_JSON_NULL && parse_memory(m, r, err) < 0)
    return -1;
  if (c != NULL && c->type != SK_JSON_NULL && parse_cpu(c, r, err) < 0)
    return -1;
  if (p != NULL && p->type != SK_JSON_NULL) {
    static const char *const pkeys[] = {"limit", NULL};
    if (spec_want(p, SK_JSON_OBJECT, "linux.resources.pids", err) < 0 || spec_check_keys(p, "linux.resources.pids", pkeys, err) < 0 ||
        spec_i64(p, "limit", "linux.resources.pids", &r->has_pids_limit, &r->pids_limit, err) < 0)
      return -1;
    if (r->has_pids_limit && r->pids_limit < -1)
      return sk_error_set(err, EINVAL, "config.json: `linux.resources.pids.limit` must be -1, 0 or positive");
  }
  return 0;
}

static int parse_cgroups_path(const sk_json_t *linux_, sk_config_t *cfg, sk_error_t *err) {
  cleanup_free char *p = NULL;
  if (spec_string(linux_, "cgroupsPath", "linux", &p, err) < 0 || p == NULL || p[0] == '\0')
    return 0;
  if (strchr(p, ':') != NULL)
    return sk_error_set(err, EOPNOTSUPP, "config.json: `linux.cgroupsPath` `%s`: systemd slice:prefix:name paths are not supported (cgroupfs only)", p);
  cfg->cgroups_path = p[0] == '/' ? steal_pointer(&p) : xasprintf("/%s", p);
  if (spec_container_path(cfg->cgroups_path, "linux.cgroupsPath", err) < 0)
    return -1;
  if (strlen(cfg->cgroups_path) >= sizeof(((sk_cgroup_t *)0)->path))
    return sk_error_set(err, ENAMETOOLONG, "config.json: `linux.cgroupsPath` is too long");
  return 0;
}

static int parse_paths(const sk_json_t *linux_, const char *key, char ***out, sk_error_t *err) {
  if (spec_strv(linux_, key, "linux", out, err) < 0)
    return -1;
  for (size_t i = 0; (*out)[i] != NULL; i++) {
    char w[SPEC_W];
    spec_field(w, "linux.%s[%zu]", key, i);
    if (spec_container_path((*out)[i], w, err) < 0)
      return -1;
  }
  return 0;
}

static int parse_linux_refusals(const sk_json_t *v, sk_error_t *err) {
  cleanup_free char *prop = NULL;
  if (spec_string(v, "rootfsPropagation", "linux", &prop, err) < 0)
    return -1;
  if (prop != NULL && prop[0] != '\0' && strcmp(prop, "private") != 0 && strcmp(prop, "rprivate") != 0)
    return spec_unsupported("linux.rootfsPropagation", "only private/rprivate (the sandbox's mounts never propagate)", err);
  if (spec_only_empty(v, "devices", "linux", "only the default device set (null, zero, full, random, urandom, tty)", err) < 0 ||
      spec_only_empty(v, "sysctl", "linux", NULL, err) < 0 || spec_only_empty(v, "mountLabel", "linux", "no SELinux support", err) < 0)
    return -1;
  return 0;
}

int spec_parse_linux(const sk_json_t *v, sk_config_t *cfg, sk_error_t *err) {
  static const char *const keys[] = {"namespaces", "uidMappings", "gidMappings", "resources", "cgroupsPath", "seccomp", "maskedPaths",
                                     "readonlyPaths", "devices", "sysctl", "rootfsPropagation", "mountLabel", NULL};
  if (spec_want(v, SK_JSON_OBJECT, "linux", err) < 0 || spec_check_keys(v, "linux", keys, err) < 0)
    return -1;
  if (parse_linux_refusals(v, err) < 0 || parse_namespaces(json_get(v, "namespaces"), cfg, err) < 0)
    return -1;
  if (parse_id_maps(v, "uidMappings", &cfg->uid_mappings, &cfg->n_uid_mappings, err) < 0 ||
      parse_id_maps(v, "gidMappings", &cfg->gid_mappings, &cfg->n_gid_mappings, err) < 0 || check_user_ns(cfg, err) < 0)
    return -1;
  if (parse_resources(json_get(v, "resources"), cfg, err) < 0 || parse_cgroups_path(v, cfg, err) < 0)
    return -1;
  const sk_json_t *sc = json_get(v, "seccomp");
  if (sc != NULL && sc->type != SK_JSON_NULL) {
    cfg->has_seccomp = true;
    if (spec_parse_seccomp(sc, &cfg->seccomp, err) < 0)
      return -1;
  }
  if (parse_paths(v, "maskedPaths", &cfg->masked_paths, err) < 0 || parse_paths(v, "readonlyPaths", &cfg->readonly_paths, err) < 0)
    return -1;
  return 0;
}
