#include "json.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include "util.h"

#define MAX_DEPTH 64

typedef struct parser {
  const char *p, *start, *end;
  sk_error_t *err;
} parser_t;

static int fail(parser_t *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(parser_t *ps, const char *fmt, ...) {
  char what[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  size_t line = 1, col = 1;
  for (const char *c = ps->start; c < ps->p && c < ps->end; c++) {
    if (*c == '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  if (ps->p >= ps->end)
    return sk_error_set(ps->err, EINVAL, "invalid JSON: %s at end of input (line %zu, column %zu)", what, line, col);
  return sk_error_set(ps->err, EINVAL, "invalid JSON: %s at line %zu, column %zu", what, line, col);
}

static void skip_ws(parser_t *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
    ps->p++;
}

static int parse_value(parser_t *ps, sk_json_t *out, int depth);

static int hex4(parser_t *ps, unsigned *out) {
  if (ps->end - ps->p < 4)
    return fail(ps, "truncated \\u escape");
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = ps->p[i];
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
      v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      v |= (unsigned)(c - 'A' + 10);
    else
      return fail(ps, "bad \\u escape");
  }
  ps->p += 4;
  *out = v;
  return 0;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid (overlong forms,
 * surrogates and code points past U+10FFFF included). */
static size_t utf8_len(const unsigned char *p, size_t n) {
  unsigned cp;
  size_t len;
  if (p[0] < 0x80)
    return 1;
  if ((p[0] & 0xE0) == 0xC0)
    cp = p[0] & 0x1F, len = 2;
  else if ((p[0] & 0xF0) == 0xE0)
    cp = p[0] & 0x0F, len = 3;
  else if ((p[0] & 0xF8) == 0xF0)
    cp = p[0] & 0x07, len = 4;
  else
    return 0;
  if (len > n)
    return 0;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return len;
}

static size_t put_utf8(char *o, unsigned cp) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | (cp >> 18));
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

static int parse_escape(parser_t *ps, char *o, size_t *olen) {
  char c = *ps->p++;
  static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
  const char *k = c != '\0' ? strchr(from, c) : NULL;
  if (k != NULL) {
    o[0] = to[k - from];
    *olen = 1;
    return 0;
  }
  if (c != 'u')
    return ps->p--, fail(ps, "bad escape");
  unsigned cp;
  if (hex4(ps, &cp) < 0)
    return -1;
  if (cp >= 0xD800 && cp <= 0xDBFF) {
    unsigned lo;
    if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
      return fail(ps, "unpaired surrogate");
    ps->p += 2;
    if (hex4(ps, &lo) < 0)
      return -1;
    if (lo < 0xDC00 || lo > 0xDFFF)
      return fail(ps, "unpaired surrogate");
    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
  } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
    return fail(ps, "unpaired surrogate");
  }
  if (cp == 0)
    return fail(ps, "NUL character in string");
  *olen = put_utf8(o, cp);
  return 0;
}

/* Parses a string literal (ps->p at the opening quote). The decoded form is never longer. */
static int parse_string(parser_t *ps, char **out, size_t *outlen) {
  ps->p++;
  const char *q = ps->p;
  while (q < ps->end && *q != '"') /* upper bound for the buffer */
    q += (*q == '\\' && q + 1 < ps->end) ? 2 : 1;
  cleanup_free char *s = xmalloc((size_t)(q - ps->p) + 1);
  size_t n = 0;
  for (;;) {
    if (ps->p >= ps->end)
      return fail(ps, "unterminated string");
    unsigned char c = (unsigned char)*ps->p;
    if (c == '"')
      break;
    if (c < 0x20)
      return fail(ps, "control character in string");
    if (c == '\\') {
      ps->p++;
      if (ps->p >= ps->end)
        return fail(ps, "unterminated string");
      size_t k = 0;
      if (parse_escape(ps, s + n, &k) < 0)
        return -1;
      n += k;
      continue;
    }
    size_t k = utf8_len((const unsigned char *)ps->p, (size_t)(ps->end - ps->p));
    if (k == 0)
      return fail(ps, "invalid UTF-8 in string");
    memcpy(s + n, ps->p, k);
    n += k;
    ps->p += k;
  }
  ps->p++;
  s[n] = '\0';
  *out = steal_pointer(&s);
  *outlen = n;
  return 0;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static int parse_number(parser_t *ps, sk_json_t *out) {
  const char *b = ps->p;
  if (ps->p < ps->end && *ps->p == '-')
    ps->p++;
  if (ps->p >= ps->end || !is_digit(*ps->p))
    return fail(ps, "bad number");
  if (*ps->p == '0')
    ps->p++;
  else
    while (ps->p < ps->end && is_digit(*ps->p))
      ps->p++;
  if (ps->p < ps->end && *ps->p == '.') {
    ps->p++;
    if (ps->p >= ps->end || !is_digit(*ps->p))
      return fail(ps, "bad number");
    while (ps->p < ps->end && is_digit(*ps->p))
      ps->p++;
  }
  if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
    ps->p++;
    if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
      ps->p++;
    if (ps->p >= ps->end || !is_digit(*ps->p))
      return fail(ps, "bad number");
    while (ps->p < ps->end && is_digit(*ps->p))
      ps->p++;
  }
  out->type = SK_JSON_NUMBER;
  out->u.number = strndup(b, (size_t)(ps->p - b));
  if (out->u.number == NULL)
    abort();
  return 0;
}

static int parse_array(parser_t *ps, sk_json_t *out, int depth) {
  ps->p++;
  out->type = SK_JSON_ARRAY;
  out->u.array.items = NULL;
  out->u.array.n = 0;
  size_t cap = 0;
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == ']')
    return ps->p++, 0;
  for (;;) {
    if (out->u.array.n == cap) {
      cap = cap ? cap * 2 : 4;
      out->u.array.items = xrealloc(out->u.array.items, cap * sizeof(sk_json_t));
    }
    if (parse_value(ps, &out->u.array.items[out->u.array.n], depth + 1) < 0)
      return -1;
    out->u.array.n++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    if (ps->p < ps->end && *ps->p == ']')
      return ps->p++, 0;
    return fail(ps, "expected `,` or `]`");
  }
}

static int parse_member(parser_t *ps, sk_json_t *obj, int depth) {
  skip_ws(ps);
  if (ps->p >= ps->end || *ps->p != '"')
    return fail(ps, "expected a string key");
  const char *at = ps->p;
  char *key;
  size_t klen;
  if (parse_string(ps, &key, &klen) < 0)
    return -1;
  if (json_get(obj, key) != NULL) {
    ps->p = at;
    fail(ps, "duplicate key `%.64s`", key);
    free(key);
    return -1;
  }
  sk_json_member_t *m = &obj->u.object.members[obj->u.object.n];
  m->key = key;
  m->value.type = SK_JSON_NULL;
  obj->u.object.n++; /* counted now so json_free releases the key on error */
  skip_ws(ps);
  if (ps->p >= ps->end || *ps->p != ':')
    return fail(ps, "expected `:`");
  ps->p++;
  return parse_value(ps, &m->value, depth + 1);
}

static int parse_object(parser_t *ps, sk_json_t *out, int depth) {
  ps->p++;
  out->type = SK_JSON_OBJECT;
  out->u.object.members = NULL;
  out->u.object.n = 0;
  size_t cap = 0;
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == '}')
    return ps->p++, 0;
  for (;;) {
    if (out->u.object.n == cap) {
      cap = cap ? cap * 2 : 8;
      out->u.object.members = xrealloc(out->u.object.members, cap * sizeof(sk_json_member_t));
    }
    if (parse_member(ps, out, depth) < 0)
      return -1;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    if (ps->p < ps->end && *ps->p == '}')
      return ps->p++, 0;
    return fail(ps, "expected `,` or `}`");
  }
}

static int parse_literal(parser_t *ps, const char *word, sk_json_t *out, sk_json_type_t t, bool b) {
  size_t n = strlen(word);
  if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
    return fail(ps, "unexpected character");
  ps->p += n;
  out->type = t;
  out->u.boolean = b;
  return 0;
}

static int parse_value(parser_t *ps, sk_json_t *out, int depth) {
  out->type = SK_JSON_NULL;
  if (depth > MAX_DEPTH)
    return fail(ps, "nesting too deep");
  skip_ws(ps);
  if (ps->p >= ps->end)
    return fail(ps, "expected a value");
  switch (*ps->p) {
  case '{':
    return parse_object(ps, out, depth);
  case '[':
    return parse_array(ps, out, depth);
  case '"':
    out->type = SK_JSON_STRING;
    out->u.string.s = NULL;
    return parse_string(ps, &out->u.string.s, &out->u.string.len);
  case 't':
    return parse_literal(ps, "true", out, SK_JSON_BOOL, true);
  case 'f':
    return parse_literal(ps, "false", out, SK_JSON_BOOL, false);
  case 'n':
    return parse_literal(ps, "null", out, SK_JSON_NULL, false);
  default:
    if (*ps->p == '-' || is_digit(*ps->p))
      return parse_number(ps, out);
    return fail(ps, "unexpected character");
  }
}

int json_parse(const char *buf, size_t len, sk_json_t *out, sk_error_t *err) {
  parser_t ps = {.p = buf, .start = buf, .end = buf + len, .err = err};
  if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
    ps.p += 3;
  if (parse_value(&ps, out, 0) < 0) {
    json_free(out);
    return -1;
  }
  skip_ws(&ps);
  if (ps.p != ps.end) {
    json_free(out);
    return fail(&ps, "trailing characters");
  }
  return 0;
}

void json_free(sk_json_t *v) {
  switch (v->type) {
  case SK_JSON_NUMBER:
    free(v->u.number);
    break;
  case SK_JSON_STRING:
    free(v->u.string.s);
    break;
  case SK_JSON_ARRAY:
    for (size_t i = 0; i < v->u.array.n; i++)
      json_free(&v->u.array.items[i]);
    free(v->u.array.items);
    break;
  case SK_JSON_OBJECT:
    for (size_t i = 0; i < v->u.object.n; i++) {
      free(v->u.object.members[i].key);
      json_free(&v->u.object.members[i].value);
    }
    free(v->u.object.members);
    break;
  default:
    break;
  }
  v->type = SK_JSON_NULL;
}

const sk_json_t *json_get(const sk_json_t *v, const char *key) {
  if (v == NULL || v->type != SK_JSON_OBJECT)
    return NULL;
  for (size_t i = 0; i < v->u.object.n; i++)
    if (strcmp(v->u.object.members[i].key, key) == 0)
      return &v->u.object.members[i].value;
  return NULL;
}

const char *json_type_name(sk_json_type_t t) {
  static const char *const names[] = {"null", "boolean", "number", "string", "array", "object"};
  return (unsigned)t < SK_ARRAY_SIZE(names) ? names[t] : "?";
}

bool json_int64(const sk_json_t *v, int64_t *out) {
  if (v == NULL || v->type != SK_JSON_NUMBER || strpbrk(v->u.number, ".eE") != NULL)
    return false;
  char *end;
  errno = 0;
  long long r = strtoll(v->u.number, &end, 10);
  if (errno != 0 || *end != '\0')
    return false;
  *out = r;
  return true;
}

bool json_uint64(const sk_json_t *v, uint64_t *out) {
  if (v == NULL || v->type != SK_JSON_NUMBER || v->u.number[0] == '-' || strpbrk(v->u.number, ".eE") != NULL)
    return false;
  char *end;
  errno = 0;
  unsigned long long r = strtoull(v->u.number, &end, 10);
  if (errno != 0 || *end != '\0')
    return false;
  *out = r;
  return true;
}

void json_write_string(FILE *f, const char *s) {
  fputc('"', f);
  const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
  while (p < end) {
    size_t k = utf8_len(p, (size_t)(end - p));
    if (k == 0) { /* bytes from a path or the kernel that are not UTF-8 */
      fputs("\\ufffd", f);
      p++;
      continue;
    }
    if (k > 1) {
      fwrite(p, 1, k, f);
      p += k;
      continue;
    }
    switch (*p) {
    case '"':
      fputs("\\\"", f);
      break;
    case '\\':
      fputs("\\\\", f);
      break;
    case '\n':
      fputs("\\n", f);
      break;
    case '\r':
      fputs("\\r", f);
      break;
    case '\t':
      fputs("\\t", f);
      break;
    default:
      if (*p < 0x20 || *p == 0x7f)
        fprintf(f, "\\u%04x", *p);
      else
        fputc(*p, f);
    }
    p++;
  }
  fputc('"', f);
}
