#include "util.h"

#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void oom(size_t n) {
  /* No allocation here: we are out of memory. */
  char msg[96];
  int len = snprintf(msg, sizeof msg, "{\"level\":\"fatal\",\"msg\":\"out of memory allocating %zu bytes\"}\n", n);
  if (len > 0 && write(STDERR_FILENO, msg, (size_t)len) < 0) {
    /* nothing left to report it with */
  }
  abort();
}

void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (p == NULL)
    oom(n);
  return p;
}

void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (p == NULL)
    oom(n * size);
  return p;
}

void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (q == NULL)
    oom(n);
  return q;
}

char *xstrdup(const char *s) { return xmemdup(s, strlen(s) + 1); }

void *xmemdup(const void *p, size_t n) {
  void *q = xmalloc(n);
  if (n > 0)
    memcpy(q, p, n);
  return q;
}

uint64_t now_ns(void) {
  struct timespec ts;
  /* CLOCK_MONOTONIC cannot fail with a valid pointer. */
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int write_all(int fd, const void *buf, size_t len) {
  const uint8_t *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int pwrite_all(int fd, const void *buf, size_t len, off_t off) {
  const uint8_t *p = buf;
  while (len > 0) {
    ssize_t n = pwrite(fd, p, len, off);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += n;
    off += n;
    len -= (size_t)n;
  }
  return 0;
}

void sk_log(const char *level, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  struct sk_buf b = {0};
  sk_buf_printf(&b, "{\"level\":\"%s\",\"msg\":\"", level);
  for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
    if (*p == '"' || *p == '\\')
      sk_buf_printf(&b, "\\%c", *p);
    else if (*p < 0x20 || *p >= 0x7f)
      sk_buf_printf(&b, "\\u%04x", *p);
    else
      sk_buf_appendc(&b, (char)*p);
  }
  sk_buf_append(&b, "\"}\n", 3);
  /* Logging is best effort: a full pipe nobody reads must not block PID 1, so a line is
   * dropped unless stderr can take it now (a pipe with room takes a line this short whole). */
  struct pollfd p = {.fd = STDERR_FILENO, .events = POLLOUT};
  if (poll(&p, 1, 0) == 1 && (p.revents & POLLOUT))
    (void)write_all(STDERR_FILENO, sk_buf_head(&b), b.len);
  sk_buf_free(&b);
}

uint8_t *sk_buf_reserve(struct sk_buf *b, size_t n) {
  if (b->off + b->len + n <= b->cap)
    return b->data + b->off + b->len;
  if (b->off > 0 && b->len + n <= b->cap) {
    memmove(b->data, b->data + b->off, b->len);
    b->off = 0;
    return b->data + b->len;
  }
  if (b->off > 0) {
    memmove(b->data, b->data + b->off, b->len);
    b->off = 0;
  }
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + n)
    cap *= 2;
  b->data = xrealloc(b->data, cap);
  b->cap = cap;
  return b->data + b->len;
}

void sk_buf_append(struct sk_buf *b, const void *p, size_t n) {
  if (n == 0)
    return;
  memcpy(sk_buf_reserve(b, n), p, n);
  b->len += n;
}

void sk_buf_appendc(struct sk_buf *b, char c) { sk_buf_append(b, &c, 1); }

void sk_buf_printf(struct sk_buf *b, const char *fmt, ...) {
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if ((size_t)n < sizeof small) {
    sk_buf_append(b, small, (size_t)n);
    return;
  }
  uint8_t *dst = sk_buf_reserve(b, (size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf((char *)dst, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void sk_buf_consume(struct sk_buf *b, size_t n) {
  if (n >= b->len) {
    b->off = 0;
    b->len = 0;
    return;
  }
  b->off += n;
  b->len -= n;
}

void sk_buf_reset(struct sk_buf *b) {
  b->off = 0;
  b->len = 0;
}

void sk_buf_shrink(struct sk_buf *b) {
  if (b->len == 0 && b->cap > (1u << 20)) {
    free(b->data);
    b->data = NULL;
    b->cap = 0;
    b->off = 0;
  }
}

void sk_buf_free(struct sk_buf *b) {
  free(b->data);
  b->data = NULL;
  b->off = b->len = b->cap = 0;
}
