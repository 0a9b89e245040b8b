/* Small helpers shared by every file: scope-bound cleanup (after crun), ownership hand-over,
 * allocation that aborts on out-of-memory, the monotonic clock and a growable byte buffer. */
#ifndef SK_UTIL_H
#define SK_UTIL_H

#include <dirent.h>
#include <stdio.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd) {
  if (*fd >= 0) {
    int saved = errno;
    close(*fd);
    errno = saved;
  }
}
static inline void closedirp(DIR **d) {
  if (*d != NULL) {
    int saved = errno;
    closedir(*d);
    errno = saved;
  }
}

static inline void fclosep(FILE **f) {
  if (*f != NULL)
    fclose(*f);
}

#define cleanup_free _cleanup_(freep)
#define cleanup_file_ _cleanup_(fclosep)
#define cleanup_close _cleanup_(closep)
#define cleanup_dir _cleanup_(closedirp)

/* Hands ownership over: returns the value and resets the variable so cleanup does nothing. */
#define steal_pointer(pp) ({ __typeof__(*(pp)) _p = *(pp); *(pp) = NULL; _p; })
static inline int steal_fd(int *fd) {
  int r = *fd;
  *fd = -1;
  return r;
}

#define SK_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* A 100-byte allocation failing is not recoverable for PID 1: these abort instead. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
void *xmemdup(const void *p, size_t n);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t now_ns(void);
#define MS_NS(ms) ((uint64_t)(ms) * 1000000ull)

/* Writes all of buf to a blocking fd, retrying on EINTR and short writes; -1 with errno. */
int write_all(int fd, const void *buf, size_t len);
/* pwrite of all of buf at offset; -1 with errno. */
int pwrite_all(int fd, const void *buf, size_t len, off_t off);

/* Logs one JSON line {"level","msg"} to stderr (the sandbox's log). */
void sk_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A byte buffer: valid bytes are data[off, off+len). Appends grow it; consume drops from the
 * front without moving bytes until it is worth it. */
struct sk_buf {
  uint8_t *data;
  size_t off, len, cap;
};
/* Makes room for n more bytes and returns where they go (commit them with sk_buf_commit). */
uint8_t *sk_buf_reserve(struct sk_buf *b, size_t n);
static inline void sk_buf_commit(struct sk_buf *b, size_t n) { b->len += n; }
static inline const uint8_t *sk_buf_head(const struct sk_buf *b) { return b->data + b->off; }
void sk_buf_append(struct sk_buf *b, const void *p, size_t n);
void sk_buf_appendc(struct sk_buf *b, char c);
void sk_buf_printf(struct sk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sk_buf_consume(struct sk_buf *b, size_t n);
void sk_buf_reset(struct sk_buf *b);
/* Gives memory back when a buffer that grew large is empty again. */
void sk_buf_shrink(struct sk_buf *b);
void sk_buf_free(struct sk_buf *b);

#endif
