/* Field-level helpers of the config.json parser: type checks and conversions whose errors
 * name the offending field. */
#include "spec_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include "util.h"

void spec_field(char *out, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(out, SPEC_W, fmt, ap);
  va_end(ap);
}

int spec_check_keys(const sk_json_t *obj, const char *where, const char *const *known, sk_error_t *err) {
  for (size_t i = 0; i < obj->u.object.n; i++) {
    const char *k = obj->u.object.members[i].key;
    bool ok = false;
    for (const char *const *p = known; *p != NULL && !ok; p++)
      ok = strcmp(*p, k) == 0;
    if (!ok)
      return sk_error_set(err, EOPNOTSUPP, "config.json: unsupported field `%s%s%s`", where, *where ? "." : "", k);
  }
  return 0;
}

int spec_want(const sk_json_t *v, sk_json_type_t t, const char *where, sk_error_t *err) {
  if (v->type == t)
    return 0;
  return sk_error_set(err, EINVAL, "config.json: `%s` must be a%s %s, not %s", where,
                      t == SK_JSON_ARRAY || t == SK_JSON_OBJECT ? "n" : "", json_type_name(t), json_type_name(v->type));
}

int spec_unsupported(const char *where, const char *why, sk_error_t *err) {
  return sk_error_set(err, EOPNOTSUPP, "config.json: `%s` is not supported%s%s", where, why ? ": " : "", why ? why : "");
}

static const sk_json_t *member(const sk_json_t *obj, const char *key) {
  const sk_json_t *v = json_get(obj, key);
  return v == NULL || v->type == SK_JSON_NULL ? NULL : v;
}

static void field(char *w, const char *where, const char *key) {
  spec_field(w, "%s%s%s", where, *where ? "." : "", key);
}

int spec_string(const sk_json_t *obj, const char *key, const char *where, char **out, sk_error_t *err) {
  const sk_json_t *v = member(obj, key);
  if (v == NULL)
    return 0;
  char w[SPEC_W];
  field(w, where, key);
  if (spec_want(v, SK_JSON_STRING, w, err) < 0)
    return -1;
  free(*out);
  *out = xstrdup(v->u.string.s);
  return 0;
}

int spec_bool(const sk_json_t *obj, const char *key, const char *where, bool *out, sk_error_t *err) {
  const sk_json_t *v = member(obj, key);
  if (v == NULL)
    return 0;
  char w[SPEC_W];
  field(w, where, key);
  if (spec_want(v, SK_JSON_BOOL, w, err) < 0)
    return -1;
  *out = v->u.boolean;
  return 0;
}

static int bad_int(const sk_json_t *v, const char *w, const char *what, sk_error_t *err) {
  if (spec_want(v, SK_JSON_NUMBER, w, err) < 0)
    return -1;
  return sk_error_set(err, EINVAL, "config.json: `%s` must be %s, got %s", w, what, v->u.number);
}

int spec_u32(const sk_json_t *obj, const char *key, const char *where, bool *has, uint32_t *out, sk_error_t *err) {
  const sk_json_t *v = member(obj, key);
  if (v == NULL)
    return 0;
  char w[SPEC_W];
  field(w, where, key);
  uint64_t u;
  if (!json_uint64(v, &u) || u > UINT32_MAX)
    return bad_int(v, w, "an integer in 0..4294967295", err);
  *out = (uint32_t)u;
  if (has != NULL)
    *has = true;
  return 0;
}

int spec_i64(const sk_json_t *obj, const char *key, const char *where, bool *has, int64_t *out, sk_error_t *err) {
  const sk_json_t *v = member(obj, key);
  if (v == NULL)
    return 0;
  char w[SPEC_W];
  field(w, where, key);
  if (!json_int64(v, out))
    return bad_int(v, w, "a 64-bit integer", err);
  if (has != NULL)
    *has = true;
  return 0;
}

int spec_u64(const sk_json_t *obj, const char *key, const char *where, bool *has, uint64_t *out, sk_error_t *err) {
  const sk_json_t *v = member(obj, key);
  if (v == NULL)
    return 0;
  char w[SPEC_W];
  field(w, where, key);
  if (!json_uint64(v, out))
    return bad_int(v, w, "a non-negative 64-bit integer", err);
  if (has != NULL)
    *has = true;
  return 0;
}

int spec_strv(const sk_json_t *obj, const char *key, const char *where, char ***out, sk_error_t *err) {
  const sk_json_t *v = member(obj, key);
  char w[SPEC_W];
  field(w, where, key);
  if (v != NULL && spec_want(v, SK_JSON_ARRAY, w, err) < 0)
    return -1;
  size_t n = v != NULL ? v->u.array.n : 0;
  char **r = xcalloc(n + 1, sizeof(char *));
  for (size_t i = 0; i < n; i++) {
    const sk_json_t *it = &v->u.array.items[i];
    if (it->type != SK_JSON_STRING) {
      strvfreep(&r);
      return sk_error_set(err, EINVAL, "config.json: `%s[%zu]` must be a string, not %s", w, i, json_type_name(it->type));
    }
    r[i] = xstrdup(it->u.string.s);
  }
  strvfreep(out);
  *out = r;
  return 0;
}

bool spec_is_empty(const sk_json_t *v) {
  switch (v->type) {
  case SK_JSON_NULL:
    return true;
  case SK_JSON_BOOL:
    return !v->u.boolean;
  case SK_JSON_STRING:
    return v->u.string.len == 0;
  case SK_JSON_ARRAY:
    return v->u.array.n == 0;
  case SK_JSON_OBJECT:
    for (size_t i = 0; i < v->u.object.n; i++)
      if (!spec_is_empty(&v->u.object.members[i].value))
        return false;
    return true;
  default:
    return false;
  }
}

int spec_only_empty(const sk_json_t *obj, const char *key, const char *where, const char *why, sk_error_t *err) {
  const sk_json_t *v = json_get(obj, key);
  if (v == NULL || spec_is_empty(v))
    return 0;
  char w[SPEC_W];
  field(w, where, key);
  return spec_unsupported(w, why, err);
}

int spec_container_path(const char *p, const char *where, sk_error_t *err) {
  if (p[0] != '/')
    return sk_error_set(err, EINVAL, "config.json: `%s` must be an absolute path, got `%s`", where, p);
  for (const char *s = p; (s = strstr(s, "..")) != NULL; s += 2)
    if (s[-1] == '/' && (s[2] == '/' || s[2] == '\0'))
      return sk_error_set(err, EINVAL, "config.json: `%s` must not contain `..`, got `%s`", where, p);
  return 0;
}

char *spec_bundle_path(const char *bundle, const char *p) {
  if (p[0] == '/')
    return xstrdup(p);
  return xasprintf("%s/%s", bundle, p);
}
