/* config.json `linux.seccomp` → sk_seccomp_t (compiled to BPF by seccomp.c). */
#include <errno.h>
#include <string.h>
#include "spec_internal.h"
#include "util.h"

static const struct {
  const char *name;
  sk_scmp_action_t action;
} actions[] = {
    {"SCMP_ACT_KILL", SK_SCMP_ACT_KILL},   {"SCMP_ACT_KILL_THREAD", SK_SCMP_ACT_KILL}, {"SCMP_ACT_KILL_PROCESS", SK_SCMP_ACT_KILL_PROCESS},
    {"SCMP_ACT_TRAP", SK_SCMP_ACT_TRAP},   {"SCMP_ACT_ERRNO", SK_SCMP_ACT_ERRNO},      {"SCMP_ACT_TRACE", SK_SCMP_ACT_TRACE},
    {"SCMP_ACT_ALLOW", SK_SCMP_ACT_ALLOW}, {"SCMP_ACT_LOG", SK_SCMP_ACT_LOG},
};

static const struct {
  const char *name;
  sk_scmp_op_t op;
} ops[] = {
    {"SCMP_CMP_NE", SK_SCMP_CMP_NE}, {"SCMP_CMP_LT", SK_SCMP_CMP_LT}, {"SCMP_CMP_LE", SK_SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SK_SCMP_CMP_EQ}, {"SCMP_CMP_GE", SK_SCMP_CMP_GE}, {"SCMP_CMP_GT", SK_SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SK_SCMP_CMP_MASKED_EQ},
};

static int parse_action(const sk_json_t *obj, const char *key, const char *w, sk_scmp_action_t *out, sk_error_t *err) {
  cleanup_free char *name = NULL;
  if (spec_string(obj, key, w, &name, err) < 0)
    return -1;
  if (name == NULL)
    return sk_error_set(err, EINVAL, "config.json: `%s.%s` is required", w, key);
  for (size_t i = 0; i < SK_ARRAY_SIZE(actions); i++)
    if (strcmp(actions[i].name, name) == 0)
      return *out = actions[i].action, 0;
  return sk_error_set(err, EOPNOTSUPP, "config.json: `%s.%s`: action `%s` is not supported", w, key, name);
}

static int parse_arg(const sk_json_t *a, const char *w, sk_scmp_arg_t *out, sk_error_t *err) {
  static const char *const keys[] = {"index", "value", "valueTwo", "op", NULL};
  if (spec_want(a, SK_JSON_OBJECT, w, err) < 0 || spec_check_keys(a, w, keys, err) < 0)
    return -1;
  bool has_index = false;
  uint32_t index = 0;
  cleanup_free char *op = NULL;
  if (spec_u32(a, "index", w, &has_index, &index, err) < 0 || spec_u64(a, "value", w, NULL, &out->value, err) < 0 ||
      spec_u64(a, "valueTwo", w, NULL, &out->value_two, err) < 0 || spec_string(a, "op", w, &op, err) < 0)
    return -1;
  if (!has_index || index > 5)
    return sk_error_set(err, EINVAL, "config.json: `%s.index` must be 0..5", w);
  out->index = index;
  for (size_t i = 0; op != NULL && i < SK_ARRAY_SIZE(ops); i++)
    if (strcmp(ops[i].name, op) == 0)
      out->op = ops[i].op;
  if (out->op == 0)
    return sk_error_set(err, EINVAL, "config.json: `%s.op`: unknown operator `%s`", w, op ? op : "(missing)");
  return 0;
}

static int parse_rule(const sk_json_t *r, const char *w, sk_scmp_rule_t *out, sk_error_t *err) {
  static const char *const keys[] = {"names", "action", "errnoRet", "args", NULL};
  if (spec_want(r, SK_JSON_OBJECT, w, err) < 0 || spec_check_keys(r, w, keys, err) < 0)
    return -1;
  if (spec_strv(r, "names", w, &out->names, err) < 0 || parse_action(r, "action", w, &out->action, err) < 0)
    return -1;
  if (out->names[0] == NULL)
    return sk_error_set(err, EINVAL, "config.json: `%s.names` must name at least one syscall", w);
  bool has_errno = false;
  out->errno_ret = EPERM;
  if (spec_u32(r, "errnoRet", w, &has_errno, &out->errno_ret, err) < 0)
    return -1;
  const sk_json_t *args = json_get(r, "args");
  if (args == NULL || args->type == SK_JSON_NULL)
    return 0;
  char wa[SPEC_W];
  spec_field(wa, "%s.args", w);
  if (spec_want(args, SK_JSON_ARRAY, wa, err) < 0)
    return -1;
  out->args = xcalloc(args->u.array.n, sizeof(sk_scmp_arg_t));
  for (size_t i = 0; i < args->u.array.n; i++) {
    char wi[SPEC_W];
    spec_field(wi, "%s[%zu]", wa, i);
    if (parse_arg(&args->u.array.items[i], wi, &out->args[i], err) < 0)
      return -1;
    out->n_args++;
  }
  return 0;
}

int spec_parse_seccomp(const sk_json_t *v, sk_seccomp_t *sc, sk_error_t *err) {
  static const char *const keys[] = {"defaultAction", "defaultErrnoRet", "architectures", "flags", "listenerPath", "listenerMetadata", "syscalls", NULL};
  const char *w = "linux.seccomp";
  if (spec_want(v, SK_JSON_OBJECT, w, err) < 0 || spec_check_keys(v, w, keys, err) < 0)
    return -1;
  if (spec_only_empty(v, "flags", w, NULL, err) < 0 || spec_only_empty(v, "listenerPath", w, "no seccomp notify support", err) < 0 ||
      spec_only_empty(v, "listenerMetadata", w, "no seccomp notify support", err) < 0)
    return -1;
  sc->default_errno_ret = EPERM;
  if (parse_action(v, "defaultAction", w, &sc->default_action, err) < 0 ||
      spec_u32(v, "defaultErrnoRet", w, NULL, &sc->default_errno_ret, err) < 0 || spec_strv(v, "architectures", w, &sc->architectures, err) < 0)
    return -1;
  const sk_json_t *rules = json_get(v, "syscalls");
  if (rules == NULL || rules->type == SK_JSON_NULL)
    return 0;
  if (spec_want(rules, SK_JSON_ARRAY, "linux.seccomp.syscalls", err) < 0)
    return -1;
  sc->rules = xcalloc(rules->u.array.n, sizeof(sk_scmp_rule_t));
  for (size_t i = 0; i < rules->u.array.n; i++) {
    char wi[SPEC_W];
    spec_field(wi, "linux.seccomp.syscalls[%zu]", i);
    sc->n_rules++; /* counted first so a half-parsed rule is freed too */
    if (parse_rule(&rules->u.array.items[i], wi, &sc->rules[i], err) < 0)
      return -1;
  }
  return 0;
}

void spec_free_seccomp(sk_seccomp_t *sc) {
  strvfreep(&sc->architectures);
  for (size_t i = 0; i < sc->n_rules; i++) {
    strvfreep(&sc->rules[i].names);
    free(sc->rules[i].args);
  }
  free(sc->rules);
  memset(sc, 0, sizeof *sc);
}
