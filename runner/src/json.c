#include "json.h"

#include <inttypes.h>
#include <string.h>

void sk_json_init(struct sk_json *j, struct sk_buf *b) {
  *j = (struct sk_json){.b = b};
}

/* Comma handling: a value right after a key never gets one; otherwise every element but the
 * first of its container does. */
static void before_value(struct sk_json *j) {
  if (j->after_key) {
    j->after_key = false;
    return;
  }
  if (j->depth > 0 && j->need_comma[j->depth])
    sk_buf_appendc(j->b, ',');
  if (j->depth > 0)
    j->need_comma[j->depth] = true;
}

static void open_container(struct sk_json *j, char c) {
  before_value(j);
  sk_buf_appendc(j->b, c);
  if (j->depth < (int)SK_ARRAY_SIZE(j->need_comma) - 1)
    j->depth++;
  j->need_comma[j->depth] = false;
}

static void close_container(struct sk_json *j, char c) {
  sk_buf_appendc(j->b, c);
  if (j->depth > 0)
    j->depth--;
}

void sk_json_obj_begin(struct sk_json *j) { open_container(j, '{'); }
void sk_json_obj_end(struct sk_json *j) { close_container(j, '}'); }
void sk_json_arr_begin(struct sk_json *j) { open_container(j, '['); }
void sk_json_arr_end(struct sk_json *j) { close_container(j, ']'); }

static void put_bytes(struct sk_buf *b, const uint8_t *p, size_t n) {
  static const char hex[] = "0123456789abcdef";
  sk_buf_appendc(b, '"');
  for (size_t i = 0; i < n; i++) {
    uint8_t c = p[i];
    if (c == '"' || c == '\\') {
      char esc[2] = {'\\', (char)c};
      sk_buf_append(b, esc, 2);
    } else if (c >= 0x20 && c < 0x7f) {
      sk_buf_appendc(b, (char)c);
    } else {
      char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      sk_buf_append(b, esc, 6);
    }
  }
  sk_buf_appendc(b, '"');
}

void sk_json_key(struct sk_json *j, const char *key) {
  before_value(j);
  put_bytes(j->b, (const uint8_t *)key, strlen(key));
  sk_buf_appendc(j->b, ':');
  j->after_key = true;
}

void sk_json_bytes(struct sk_json *j, const void *s, size_t n) {
  before_value(j);
  put_bytes(j->b, s, n);
}

void sk_json_str(struct sk_json *j, const char *s) { sk_json_bytes(j, s, strlen(s)); }

void sk_json_u64(struct sk_json *j, uint64_t v) {
  before_value(j);
  sk_buf_printf(j->b, "%" PRIu64, v);
}

void sk_json_i64(struct sk_json *j, int64_t v) {
  before_value(j);
  sk_buf_printf(j->b, "%" PRId64, v);
}

void sk_json_ms(struct sk_json *j, double v) {
  before_value(j);
  sk_buf_printf(j->b, "%.3f", v);
}

void sk_json_bool(struct sk_json *j, bool v) {
  before_value(j);
  sk_buf_append(j->b, v ? "true" : "false", v ? 4 : 5);
}

void sk_json_null(struct sk_json *j) {
  before_value(j);
  sk_buf_append(j->b, "null", 4);
}
