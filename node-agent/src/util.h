/* Small helpers shared by every file: scope-bound cleanup (after crun), ownership hand-over,
 * and whole-file reads/writes that report errors in the house convention. */
#ifndef SK_UTIL_H
#define SK_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>
#include "error.h"

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd) {
  if (*fd >= 0) {
    int saved = errno;
    close(*fd);
    errno = saved;
  }
}
static inline void fclosep(FILE **f) {
  if (*f != NULL)
    fclose(*f);
}
void strvfreep(char ***v);

#define cleanup_free _cleanup_(freep)
#define cleanup_close _cleanup_(closep)
#define cleanup_file _cleanup_(fclosep)
#define cleanup_strv _cleanup_(strvfreep)

/* Hands ownership over: returns the value and resets the variable so cleanup does nothing. */
#define steal_pointer(pp) ({ __typeof__(*(pp)) _p = *(pp); *(pp) = NULL; _p; })
static inline int steal_fd(int *fd) {
  int r = *fd;
  *fd = -1;
  return r;
}

#define SK_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Reads a whole file (NUL-terminated; *len excludes the NUL). At most max bytes (0 = 64 MiB). */
int read_file_at(int dirfd, const char *path, size_t max, char **buf, size_t *len, sk_error_t *err);
/* Writes data to an existing file (cgroup/proc style: one write, O_WRONLY|O_CLOEXEC). */
int write_file_at(int dirfd, const char *path, const char *data, size_t len, sk_error_t *err);
/* Writes a new file atomically: temp file + fsync-less rename (the state survives our crash,
 * not a power loss, which clears /run anyway). */
int write_file_atomic(const char *path, const char *data, size_t len, mode_t mode, sk_error_t *err);
/* Writes all of buf, retrying on EINTR and short writes. */
int write_all(int fd, const void *buf, size_t len);
/* mkdir -p; existing directories are fine. */
int mkdir_p(const char *path, mode_t mode, sk_error_t *err);
/* rm -rf of a directory tree (does not cross mount points; absent is fine). */
int remove_tree(const char *path, sk_error_t *err);
/* strdup that aborts on out-of-memory: a 100-byte allocation failing is not recoverable. */
char *xstrdup(const char *s);
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
size_t strv_len(char *const *v);
/* Parses a base-10 integer; false on trailing garbage or overflow. */
bool parse_int64(const char *s, long long *out);

#endif
