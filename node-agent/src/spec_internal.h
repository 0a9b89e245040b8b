/* Helpers shared by the config.json parser files (spec.c, spec_linux.c, spec_mounts.c). Every
 * error names the field with its full path, e.g. `linux.namespaces[2].type`. */
#ifndef SK_SPEC_INTERNAL_H
#define SK_SPEC_INTERNAL_H

#include "config.h"
#include "json.h"

#define SPEC_W 256 /* size of a field-path buffer */

/* Formats a field path into out (SPEC_W bytes), truncating quietly. */
void spec_field(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Refuses any key of obj not in known (NULL-terminated): "unsupported field `where.key`". */
int spec_check_keys(const sk_json_t *obj, const char *where, const char *const *known, sk_error_t *err);
/* Type check; null counts as absent for optional fields, so callers test for NULL first. */
int spec_want(const sk_json_t *v, sk_json_type_t t, const char *where, sk_error_t *err);
int spec_unsupported(const char *where, const char *why, sk_error_t *err);
/* Optional members (absent or null leave *out unchanged). */
int spec_string(const sk_json_t *obj, const char *key, const char *where, char **out, sk_error_t *err);
int spec_bool(const sk_json_t *obj, const char *key, const char *where, bool *out, sk_error_t *err);
int spec_u32(const sk_json_t *obj, const char *key, const char *where, bool *has, uint32_t *out, sk_error_t *err);
int spec_i64(const sk_json_t *obj, const char *key, const char *where, bool *has, int64_t *out, sk_error_t *err);
int spec_u64(const sk_json_t *obj, const char *key, const char *where, bool *has, uint64_t *out, sk_error_t *err);
/* An array of strings to a NULL-terminated vector (absent = empty vector). */
int spec_strv(const sk_json_t *obj, const char *key, const char *where, char ***out, sk_error_t *err);
/* A member that may be present only in its "empty" form ("" / [] / {} / false / null). */
int spec_only_empty(const sk_json_t *obj, const char *key, const char *where, const char *why, sk_error_t *err);
bool spec_is_empty(const sk_json_t *v);
/* Absolute paths inside the container must be clean: absolute, no `..` component. */
int spec_container_path(const char *p, const char *where, sk_error_t *err);
/* Resolves a host path relative to the bundle (absolute stays as is). */
char *spec_bundle_path(const char *bundle, const char *p);

int spec_parse_process(const sk_json_t *v, const char *where, sk_process_t *p, sk_error_t *err);
int spec_parse_linux(const sk_json_t *v, sk_config_t *cfg, sk_error_t *err);
int spec_parse_mounts(const sk_json_t *v, sk_config_t *cfg, sk_error_t *err);
int spec_parse_seccomp(const sk_json_t *v, sk_seccomp_t *sc, sk_error_t *err);
void spec_free_seccomp(sk_seccomp_t *sc);

#endif
