/* `node-agent update [--memory B] [--memory-swap B] [--cpu-quota N] [--cpu-period N]
 *  [--cpu-share N] [--pids-limit N] [-r resources.json] ID` — changes the limits of a created or
 * running sandbox in place, as `runc update`. -r takes a runtime-spec `linux.resources` object
 * (memory, cpu, pids; "-" reads stdin); flags given alongside override its values. */
#include "commands.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "resources.h"
#include "state.h"
#include "util.h"

static const char USAGE[] =
    "usage: node-agent update [OPTIONS] ID\n"
    "  --memory BYTES       memory limit (k/m/g suffixes; -1 = unlimited)\n"
    "  --memory-swap BYTES  memory+swap limit (-1 = unlimited)\n"
    "  --cpu-quota US       CPU time per period in µs (-1 = unlimited)\n"
    "  --cpu-period US      CFS period in µs (1000..1000000)\n"
    "  --cpu-share N        relative CPU weight (v1 shares; converted on cgroup v2)\n"
    "  --pids-limit N       maximum number of processes (-1 or 0 = unlimited)\n"
    "  -r, --resources FILE linux.resources JSON (memory, cpu, pids); - for stdin\n";

/* ---- values -------------------------------------------------------------------------------- */

/* "-1", "123", "64m", "1G", "512kb": binary multiples, as runc's --memory. */
static bool parse_bytes(const char *s, int64_t *out) {
  if (strcmp(s, "-1") == 0) {
    *out = -1;
    return true;
  }
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || end == s || !isdigit((unsigned char)s[0]))
    return false;
  unsigned shift = 0;
  switch (tolower((unsigned char)*end)) {
  case '\0': break;
  case 'k': shift = 10; break;
  case 'm': shift = 20; break;
  case 'g': shift = 30; break;
  case 't': shift = 40; break;
  default: return false;
  }
  if (*end != '\0') {
    end++;
    if (tolower((unsigned char)*end) == 'b')
      end++;
  }
  if (*end != '\0' || v > (unsigned long long)INT64_MAX >> shift)
    return false;
  *out = (int64_t)(v << shift);
  return true;
}

static int bytes_opt(const char *name, const char *s, bool *has, int64_t *out, sk_error_t *err) {
  if (!parse_bytes(s, out))
    return sk_error_set(err, EINVAL, "update: `--%s` wants a byte count (e.g. 64m) or -1, not `%s`", name, s);
  *has = true;
  return 0;
}

static int int_opt(const char *name, const char *s, long long min, bool *has, int64_t *out, sk_error_t *err) {
  long long v;
  if (!parse_int64(s, &v) || v < min)
    return sk_error_set(err, EINVAL, "update: `--%s` wants an integer >= %lld, not `%s`", name, min, s);
  *has = true;
  *out = v;
  return 0;
}

static int uint_opt(const char *name, const char *s, bool *has, uint64_t *out, sk_error_t *err) {
  int64_t v = 0;
  if (int_opt(name, s, 0, has, &v, err) < 0)
    return -1;
  *out = (uint64_t)v;
  return 0;
}

/* ---- -r resources.json --------------------------------------------------------------------- */

static int check_keys(const sk_json_t *obj, const char *where, const char *const *known, sk_error_t *err) {
  if (obj->type != SK_JSON_OBJECT)
    return sk_error_set(err, EINVAL, "update: resources: `%s` must be an object, not %s", where, json_type_name(obj->type));
  for (size_t i = 0; i < obj->u.object.n; i++) {
    bool ok = false;
    for (size_t k = 0; known[k] != NULL && !ok; k++)
      ok = strcmp(obj->u.object.members[i].key, known[k]) == 0;
    if (!ok)
      return sk_error_set(err, EOPNOTSUPP, "update: resources: unsupported field `%s.%s`", where, obj->u.object.members[i].key);
  }
  return 0;
}

/* An optional integer member; null counts as absent. */
static int get_i64(const sk_json_t *obj, const char *key, const char *where, bool *has, int64_t *out, sk_error_t *err) {
  const sk_json_t *v = json_get(obj, key);
  if (v == NULL || v->type == SK_JSON_NULL)
    return 0;
  if (!json_int64(v, out))
    return sk_error_set(err, EINVAL, "update: resources: `%s.%s` must be an integer", where, key);
  *has = true;
  return 0;
}

static int get_u64(const sk_json_t *obj, const char *key, const char *where, bool *has, uint64_t *out, sk_error_t *err) {
  const sk_json_t *v = json_get(obj, key);
  if (v == NULL || v->type == SK_JSON_NULL)
    return 0;
  if (!json_uint64(v, out))
    return sk_error_set(err, EINVAL, "update: resources: `%s.%s` must be a non-negative integer", where, key);
  *has = true;
  return 0;
}

static const sk_json_t *section(const sk_json_t *doc, const char *key) {
  const sk_json_t *v = json_get(doc, key);
  return v == NULL || v->type == SK_JSON_NULL ? NULL : v;
}

static int parse_resources_json(const sk_json_t *doc, sk_resources_t *r, sk_error_t *err) {
  static const char *const top[] = {"memory", "cpu", "pids", NULL}, *const mem[] = {"limit", "swap", NULL},
                           *const cpu[] = {"shares", "quota", "period", NULL}, *const pids[] = {"limit", NULL};
  if (check_keys(doc, "resources", top, err) < 0)
    return -1;
  const sk_json_t *m = section(doc, "memory"), *c = section(doc, "cpu"), *p = section(doc, "pids");
  if (m != NULL && (check_keys(m, "memory", mem, err) < 0 || get_i64(m, "limit", "memory", &r->has_memory_limit, &r->memory_limit, err) < 0 ||
                    get_i64(m, "swap", "memory", &r->has_memory_swap, &r->memory_swap, err) < 0))
    return -1;
  if (c != NULL && (check_keys(c, "cpu", cpu, err) < 0 || get_u64(c, "shares", "cpu", &r->has_cpu_shares, &r->cpu_shares, err) < 0 ||
                    get_i64(c, "quota", "cpu", &r->has_cpu_quota, &r->cpu_quota, err) < 0 ||
                    get_u64(c, "period", "cpu", &r->has_cpu_period, &r->cpu_period, err) < 0))
    return -1;
  if (p != NULL && (check_keys(p, "pids", pids, err) < 0 || get_i64(p, "limit", "pids", &r->has_pids_limit, &r->pids_limit, err) < 0))
    return -1;
  return 0;
}

static int read_resources_file(const char *path, sk_resources_t *r, sk_error_t *err) {
  cleanup_free char *text = NULL;
  size_t len;
  if (read_file_at(AT_FDCWD, strcmp(path, "-") == 0 ? "/dev/stdin" : path, 1 << 20, &text, &len, err) < 0)
    return sk_error_wrap(err, "update: resources");
  sk_json_t doc;
  if (json_parse(text, len, &doc, err) < 0)
    return sk_error_wrap(err, "update: resources `%s`", path);
  int rc = parse_resources_json(&doc, r, err);
  json_free(&doc);
  return rc;
}

/* ---- the command --------------------------------------------------------------------------- */

enum { OPT_MEMORY = 256, OPT_SWAP, OPT_QUOTA, OPT_PERIOD, OPT_SHARE, OPT_PIDS, OPT_HELP };

static const struct option LONGOPTS[] = {
    {"memory", required_argument, NULL, OPT_MEMORY},   {"memory-swap", required_argument, NULL, OPT_SWAP},
    {"cpu-quota", required_argument, NULL, OPT_QUOTA}, {"cpu-period", required_argument, NULL, OPT_PERIOD},
    {"cpu-share", required_argument, NULL, OPT_SHARE}, {"pids-limit", required_argument, NULL, OPT_PIDS},
    {"resources", required_argument, NULL, 'r'},       {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static int apply_flag(int opt, const char *arg, sk_resources_t *f, sk_error_t *err) {
  switch (opt) {
  case OPT_MEMORY: return bytes_opt("memory", arg, &f->has_memory_limit, &f->memory_limit, err);
  case OPT_SWAP: return bytes_opt("memory-swap", arg, &f->has_memory_swap, &f->memory_swap, err);
  case OPT_QUOTA: return int_opt("cpu-quota", arg, -1, &f->has_cpu_quota, &f->cpu_quota, err);
  case OPT_PERIOD: return uint_opt("cpu-period", arg, &f->has_cpu_period, &f->cpu_period, err);
  case OPT_SHARE: return uint_opt("cpu-share", arg, &f->has_cpu_shares, &f->cpu_shares, err);
  case OPT_PIDS: return int_opt("pids-limit", arg, -1, &f->has_pids_limit, &f->pids_limit, err);
  }
  return sk_error_set(err, EINVAL, "update: unknown option");
}

/* Flags override what the file said, one value at a time. */
static void overlay(sk_resources_t *r, const sk_resources_t *f) {
#define TAKE(has, field)  \
  if (f->has) {           \
    r->has = true;        \
    r->field = f->field;  \
  }
  TAKE(has_memory_limit, memory_limit)
  TAKE(has_memory_swap, memory_swap)
  TAKE(has_cpu_quota, cpu_quota)
  TAKE(has_cpu_period, cpu_period)
  TAKE(has_cpu_shares, cpu_shares)
  TAKE(has_pids_limit, pids_limit)
#undef TAKE
}

static bool any_limit(const sk_resources_t *r) {
  return r->has_memory_limit || r->has_memory_swap || r->has_cpu_quota || r->has_cpu_period || r->has_cpu_shares || r->has_pids_limit;
}

static int parse_args(int argc, char **argv, sk_resources_t *res, const char **id, bool *help, sk_error_t *err) {
  sk_resources_t flags = {0};
  const char *file = NULL;
  optind = 0; /* full re-initialisation: main parsed the global options with getopt too */
  opterr = 0;
  int opt;
  while ((opt = getopt_long(argc, argv, "+r:", LONGOPTS, NULL)) != -1) {
    if (opt == OPT_HELP) {
      *help = true;
      return 0;
    }
    if (opt == '?' || opt == ':')
      return sk_error_set(err, EINVAL, "update: unknown option or missing value `%s` (see `node-agent update --help`)", argv[optind - 1]);
    if (opt == 'r')
      file = optarg;
    else if (apply_flag(opt, optarg, &flags, err) < 0)
      return -1;
  }
  if (optind != argc - 1)
    return sk_error_set(err, EINVAL, "update: expected exactly one container id (see `node-agent update --help`)");
  *id = argv[optind];
  if (file != NULL && read_resources_file(file, res, err) < 0)
    return -1;
  overlay(res, &flags);
  if (!any_limit(res))
    return sk_error_set(err, EINVAL, "update: nothing to update: give a limit option or -r FILE");
  return 0;
}

int cmd_update(int argc, char **argv, const sk_global_opts_t *g, sk_error_t *err) {
  sk_resources_t res = {0};
  const char *id = NULL;
  bool help = false;
  if (parse_args(argc, argv, &res, &id, &help, err) < 0)
    return -1;
  if (help) {
    fputs(USAGE, stdout);
    return 0;
  }
  sk_state_t st = {0};
  if (state_check_id(id, err) < 0 || state_load(g->root, id, &st, err) < 0)
    return -1;
  int rc = 0;
  if (st.status == SK_STATUS_STOPPED)
    rc = sk_error_set(err, EINVAL, "update: container `%s` is stopped", id);
  else if (!st.has_cgroup)
    rc = sk_error_set(err, ENOENT, "update: container `%s` has no cgroup", id);
  else if (cgroup_update(&st.cgroup, &res, err) < 0)
    rc = sk_error_wrap(err, "update `%s`", id);
  state_free(&st);
  return rc;
}
