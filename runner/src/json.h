/* A JSON writer into an sk_buf. Every string the runner emits is a byte string: printable
 * ASCII is written as is (with \" and \\ escaped), every other byte b as \u00XX — so a client
 * recovers the exact bytes with latin1 (Buffer.from(s, 'latin1')). Paths and messages need not
 * be UTF-8 in a Linux sandbox; this keeps them lossless and the encoding unambiguous. */
#ifndef SK_JSON_H
#define SK_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include "util.h"

struct sk_json {
  struct sk_buf *b;
  int depth;
  bool need_comma[16];
  bool after_key;
};

void sk_json_init(struct sk_json *j, struct sk_buf *b);
void sk_json_obj_begin(struct sk_json *j);
void sk_json_obj_end(struct sk_json *j);
void sk_json_arr_begin(struct sk_json *j);
void sk_json_arr_end(struct sk_json *j);
void sk_json_key(struct sk_json *j, const char *key);
void sk_json_bytes(struct sk_json *j, const void *s, size_t n);
void sk_json_str(struct sk_json *j, const char *s);
void sk_json_u64(struct sk_json *j, uint64_t v);
void sk_json_i64(struct sk_json *j, int64_t v);
/* A number with three decimals (durations, mtimes in ms). */
void sk_json_ms(struct sk_json *j, double v);
void sk_json_bool(struct sk_json *j, bool v);
void sk_json_null(struct sk_json *j);

#endif
