#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

void strvfreep(char ***v) {
  if (*v == NULL)
    return;
  for (char **p = *v; *p != NULL; p++)
    free(*p);
  free(*v);
}

static void oom(void) {
  static const char msg[] = "node-agent: error: out of memory\n";
  (void)!write(2, msg, sizeof msg - 1);
  abort();
}

void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (p == NULL)
    oom();
  return p;
}

void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (p == NULL)
    oom();
  return p;
}

void *xrealloc(void *p, size_t n) {
  p = realloc(p, n ? n : 1);
  if (p == NULL)
    oom();
  return p;
}

char *xstrdup(const char *s) {
  char *r = strdup(s);
  if (r == NULL)
    oom();
  return r;
}

char *xasprintf(const char *fmt, ...) {
  char *r = NULL;
  va_list ap;
  va_start(ap, fmt);
  int n = vasprintf(&r, fmt, ap);
  va_end(ap);
  if (n < 0)
    oom();
  return r;
}

size_t strv_len(char *const *v) {
  size_t n = 0;
  while (v != NULL && v[n] != NULL)
    n++;
  return n;
}

bool parse_int64(const char *s, long long *out) {
  if (s == NULL || *s == '\0')
    return false;
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno != 0 || *end != '\0')
    return false;
  *out = v;
  return true;
}

int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int read_file_at(int dirfd, const char *path, size_t max, char **buf, size_t *len, sk_error_t *err) {
  if (max == 0)
    max = 64u << 20;
  cleanup_close int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return sk_error_errno(err, "open `%s`", path);
  size_t cap = 4096, n = 0;
  cleanup_free char *b = xmalloc(cap + 1);
  for (;;) {
    if (n == cap) {
      if (cap >= max)
        return sk_error_set(err, EFBIG, "read `%s`: larger than %zu bytes", path, max);
      cap *= 2;
      b = xrealloc(b, cap + 1);
    }
    ssize_t r = read(fd, b + n, cap - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return sk_error_errno(err, "read `%s`", path);
    if (r == 0)
      break;
    n += (size_t)r;
  }
  b[n] = '\0';
  *buf = steal_pointer(&b);
  if (len != NULL)
    *len = n;
  return 0;
}

int write_file_at(int dirfd, const char *path, const char *data, size_t len, sk_error_t *err) {
  cleanup_close int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return sk_error_errno(err, "open `%s`", path);
  if (write_all(fd, data, len) < 0)
    return sk_error_errno(err, "write `%s`", path);
  return 0;
}

int write_file_atomic(const char *path, const char *data, size_t len, mode_t mode, sk_error_t *err) {
  cleanup_free char *tmp = xasprintf("%s.tmp", path);
  cleanup_close int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0)
    return sk_error_errno(err, "open `%s`", tmp);
  if (write_all(fd, data, len) < 0)
    return sk_error_errno(err, "write `%s`", tmp);
  if (rename(tmp, path) < 0)
    return sk_error_errno(err, "rename `%s` to `%s`", tmp, path);
  return 0;
}

int mkdir_p(const char *path, mode_t mode, sk_error_t *err) {
  cleanup_free char *p = xstrdup(path);
  for (char *s = p + 1; *s != '\0'; s++) {
    if (*s != '/')
      continue;
    *s = '\0';
    if (mkdir(p, mode) < 0 && errno != EEXIST)
      return sk_error_errno(err, "mkdir `%s`", p);
    *s = '/';
  }
  if (mkdir(p, mode) < 0 && errno != EEXIST)
    return sk_error_errno(err, "mkdir `%s`", p);
  return 0;
}

static int remove_at(int dirfd, const char *name, dev_t dev, sk_error_t *err);

static int remove_children(int fd, const char *path, dev_t dev, sk_error_t *err) {
  DIR *d = fdopendir(fd);
  if (d == NULL) {
    close(fd);
    return sk_error_errno(err, "opendir `%s`", path);
  }
  int ret = 0;
  struct dirent *de;
  while (ret == 0 && (de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    ret = remove_at(dirfd(d), de->d_name, dev, err);
  }
  closedir(d);
  return ret;
}

static int remove_at(int dirfd, const char *name, dev_t dev, sk_error_t *err) {
  if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
    return 0;
  if (errno != EISDIR && errno != EPERM)
    return sk_error_errno(err, "unlink `%s`", name);
  int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return sk_error_errno(err, "open `%s`", name);
  struct stat st;
  if (fstat(fd, &st) < 0 || st.st_dev != dev) {
    close(fd);
    return sk_error_set(err, EXDEV, "remove `%s`: refusing to cross a mount point", name);
  }
  if (remove_children(fd, name, dev, err) < 0)
    return -1;
  if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return sk_error_errno(err, "rmdir `%s`", name);
  return 0;
}

int remove_tree(const char *path, sk_error_t *err) {
  struct stat st;
  if (lstat(path, &st) < 0)
    return errno == ENOENT ? 0 : sk_error_errno(err, "stat `%s`", path);
  return remove_at(AT_FDCWD, path, st.st_dev, err);
}
