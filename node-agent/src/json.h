/* A small strict JSON parser (RFC 8259: no trailing commas, no comments, no duplicate keys,
 * nesting limited) into a tree, plus helpers to emit JSON. Numbers keep their text so 64-bit
 * integers are exact. */
#ifndef SK_JSON_H
#define SK_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "error.h"

typedef enum { SK_JSON_NULL, SK_JSON_BOOL, SK_JSON_NUMBER, SK_JSON_STRING, SK_JSON_ARRAY, SK_JSON_OBJECT } sk_json_type_t;

typedef struct sk_json sk_json_t;
typedef struct sk_json_member sk_json_member_t;

struct sk_json {
  sk_json_type_t type;
  union {
    bool boolean;
    char *number; /* the literal as written */
    struct {
      char *s; /* NUL-terminated; strings with an embedded NUL are rejected */
      size_t len;
    } string;
    struct {
      sk_json_t *items;
      size_t n;
    } array;
    struct {
      sk_json_member_t *members;
      size_t n;
    } object;
  } u;
};

struct sk_json_member {
  char *key;
  sk_json_t value;
};

/* Parses a whole document; trailing non-space is an error. Errors name line and column. */
int json_parse(const char *buf, size_t len, sk_json_t *out, sk_error_t *err);
void json_free(sk_json_t *v);
/* Member lookup in an object; NULL if absent or v is not an object. */
const sk_json_t *json_get(const sk_json_t *v, const char *key);
const char *json_type_name(sk_json_type_t t);
/* Integer conversions; false if not an integer literal in range. */
bool json_int64(const sk_json_t *v, int64_t *out);
bool json_uint64(const sk_json_t *v, uint64_t *out);

/* Writes s as a JSON string literal (with quotes). */
void json_write_string(FILE *f, const char *s);

#endif
