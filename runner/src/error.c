#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void vset(sk_error_t *err, int e, const char *fmt, va_list ap) {
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  err->errno_ = e;
  err->code = NULL;
  if (e != 0) {
    size_t n = strlen(err->msg);
    snprintf(err->msg + n, sizeof err->msg - n, ": %s", strerror(e));
  }
}

int sk_error_errno(sk_error_t *err, const char *fmt, ...) {
  int e = errno;
  va_list ap;
  va_start(ap, fmt);
  vset(err, e, fmt, ap);
  va_end(ap);
  return -1;
}

int sk_error_set(sk_error_t *err, int e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vset(err, e, fmt, ap);
  va_end(ap);
  return -1;
}

int sk_error_code(sk_error_t *err, const char *code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vset(err, 0, fmt, ap);
  va_end(ap);
  err->code = code;
  return -1;
}

int sk_error_wrap(sk_error_t *err, const char *fmt, ...) {
  char prefix[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(prefix, sizeof prefix - 2, fmt, ap);
  va_end(ap);
  if (n < 0)
    return -1;
  size_t plen = strnlen(prefix, sizeof prefix - 2);
  prefix[plen++] = ':';
  prefix[plen++] = ' ';
  size_t mlen = strnlen(err->msg, sizeof err->msg - 1);
  if (plen + mlen >= sizeof err->msg)
    mlen = sizeof err->msg - 1 - plen;
  memmove(err->msg + plen, err->msg, mlen);
  memcpy(err->msg, prefix, plen);
  err->msg[plen + mlen] = '\0';
  return -1;
}

const char *sk_error_code_name(const sk_error_t *err) {
  if (err->code != NULL)
    return err->code;
  if (err->errno_ != 0) {
    const char *name = strerrorname_np(err->errno_);
    if (name != NULL)
      return name;
  }
  return "INTERNAL";
}
