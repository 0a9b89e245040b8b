/* File operations, performed by the runner inside the sandbox. Every path is resolved with
 * openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) against the root directory fd: `..` and
 * absolute symlinks stop at the root, and /proc/<pid>/root or /proc/self/fd/N magic links are
 * refused, so no path can name a file outside the root (the sandbox's own root after
 * pivot_root, or --fs-root). Operations on a last component (mkdir, remove, rename, lstat)
 * resolve its parent that way and then act on the single name with the *at calls. Relative
 * paths are relative to the root. Reads and writes stream in chunks; nothing holds a whole file. */
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include "json.h"
#include "runner.h"

#define MAX_TREE_DEPTH 512
#define ENTRIES_BATCH (32u << 10)

int fs_init(struct runner *r, sk_error_t *err) {
  r->rootfd = open(r->opts.fs_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (r->rootfd < 0)
    return sk_error_errno(err, "open the fs root `%s`", r->opts.fs_root);
  return 0;
}

static int resolve(struct runner *r, const char *path, int flags, mode_t mode, sk_error_t *err) {
  if (path[0] == '\0')
    return sk_error_set(err, ENOENT, "empty path");
  struct open_how how = {
      .flags = (uint64_t)(flags | O_CLOEXEC),
      .mode = (flags & O_CREAT) ? mode : 0,
      .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  for (int tries = 0;; tries++) {
    long fd = syscall(SYS_openat2, r->rootfd, path, &how, sizeof how);
    if (fd >= 0)
      return (int)fd;
    /* EAGAIN: a concurrent rename raced the in-root resolution; it is safe to retry. */
    if ((errno == EAGAIN && tries < 16) || errno == EINTR)
      continue;
    return sk_error_errno(err, "open `%s`", path);
  }
}

/* Splits "a/b/c/" into parent "a/b" and name "c"; "/" and "" give an empty name. */
static char *split_path(const char *path, const char **name) {
  char *copy = xstrdup(path);
  size_t len = strlen(copy);
  while (len > 1 && copy[len - 1] == '/')
    copy[--len] = '\0';
  char *slash = strrchr(copy, '/');
  if (slash == NULL) {
    *name = copy;
    char *parent = xmalloc(len + 3);
    parent[0] = '.';
    parent[1] = '\0';
    memcpy(parent + 2, copy, len + 1);
    free(copy);
    *name = parent + 2;
    return parent;
  }
  *slash = '\0';
  *name = slash + 1;
  if (slash == copy) {
    /* "/name": the parent is the root; keep the name after a one-char parent. */
    char *parent = xmalloc(len + 3);
    parent[0] = '/';
    parent[1] = '\0';
    memcpy(parent + 2, slash + 1, strlen(slash + 1) + 1);
    free(copy);
    *name = parent + 2;
    return parent;
  }
  return copy;
}

static bool special_name(const char *name) {
  return name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

/* Opens the parent of path; *name points into *owned. */
static int open_parent(struct runner *r, const char *path, char **owned, const char **name, const char *what,
                       sk_error_t *err) {
  *owned = split_path(path, name);
  if (special_name(*name))
    return sk_error_set(err, EINVAL, "%s `%s`: the path must end in a name (not the root, `.` or `..`)", what,
                        path);
  return resolve(r, *owned, O_PATH | O_DIRECTORY, 0, err);
}

static const char *type_name(mode_t m) {
  switch (m & S_IFMT) {
  case S_IFREG:
    return "file";
  case S_IFDIR:
    return "dir";
  case S_IFLNK:
    return "symlink";
  case S_IFIFO:
    return "fifo";
  case S_IFSOCK:
    return "socket";
  case S_IFCHR:
    return "char";
  case S_IFBLK:
    return "block";
  }
  return "unknown";
}

static void entry_json(struct sk_json *j, const char *name, const struct stat *st, int dir) {
  sk_json_obj_begin(j);
  sk_json_key(j, "name");
  sk_json_str(j, name);
  sk_json_key(j, "type");
  sk_json_str(j, type_name(st->st_mode));
  sk_json_key(j, "size");
  sk_json_i64(j, st->st_size);
  sk_json_key(j, "mode");
  sk_json_u64(j, st->st_mode & 07777);
  sk_json_key(j, "mtimeMs");
  sk_json_ms(j, (double)st->st_mtim.tv_sec * 1e3 + (double)st->st_mtim.tv_nsec / 1e6);
  sk_json_key(j, "uid");
  sk_json_u64(j, st->st_uid);
  sk_json_key(j, "gid");
  sk_json_u64(j, st->st_gid);
  if (S_ISLNK(st->st_mode) && dir >= 0) {
    char target[4096];
    ssize_t n = readlinkat(dir, name, target, sizeof target);
    if (n >= 0) {
      sk_json_key(j, "target");
      sk_json_bytes(j, target, (size_t)n);
    }
  }
  sk_json_obj_end(j);
}

static void send_result_empty(struct runner *r, struct conn *c) { conn_send(r, c, SK_RES_RESULT, "{}", 2); }

/* ---- stat ---- */

static int fs_stat(struct runner *r, struct conn *c, struct sk_req *req, sk_error_t *err) {
  const char *name;
  cleanup_free char *parent = split_path(req->path, &name);
  struct stat st;
  struct sk_buf b = {0};
  struct sk_json j;
  sk_json_init(&j, &b);
  if (special_name(name)) {
    /* The root, `.` or `..`: no name to lstat, resolve the whole path. */
    cleanup_close int fd = resolve(r, req->path, O_PATH, 0, err);
    if (fd < 0)
      return -1;
    if (fstat(fd, &st) < 0)
      return sk_error_errno(err, "stat `%s`", req->path);
    entry_json(&j, name[0] ? name : "/", &st, -1);
  } else {
    cleanup_close int pfd = resolve(r, parent, O_PATH | O_DIRECTORY, 0, err);
    if (pfd < 0)
      return -1;
    if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
      return sk_error_errno(err, "stat `%s`", req->path);
    entry_json(&j, name, &st, pfd);
  }
  conn_send_buf(r, c, SK_RES_RESULT, &b);
  sk_buf_free(&b);
  return 0;
}

/* ---- mkdir ---- */

/* mkdir -p inside the root: each missing component is created in its resolved parent. */
static int mkdir_p(struct runner *r, const char *path, mode_t mode, bool *created, sk_error_t *err) {
  int fd = resolve(r, path, O_PATH | O_DIRECTORY, 0, err);
  if (fd >= 0) {
    close(fd);
    return 0;
  }
  if (err->errno_ != ENOENT)
    return -1;
  cleanup_free char *copy = xstrdup(path);
  size_t len = strlen(copy);
  for (size_t i = 1; i <= len; i++) {
    if (i < len && !(copy[i] == '/' && copy[i - 1] != '/'))
      continue;
    char saved = copy[i];
    copy[i] = '\0';
    fd = resolve(r, copy, O_PATH | O_DIRECTORY, 0, err);
    if (fd >= 0) {
      close(fd);
    } else if (err->errno_ != ENOENT) {
      return -1;
    } else {
      cleanup_free char *owned = NULL;
      const char *name;
      cleanup_close int pfd = open_parent(r, copy, &owned, &name, "mkdir", err);
      if (pfd < 0)
        return -1;
      if (mkdirat(pfd, name, mode) < 0 && errno != EEXIST)
        return sk_error_errno(err, "mkdir `%s`", copy);
      *created = true;
    }
    copy[i] = saved;
  }
  return 0;
}

static int fs_mkdir(struct runner *r, struct conn *c, struct sk_req *req, sk_error_t *err) {
  mode_t mode = req->has_mode ? (mode_t)req->mode : 0777;
  bool created = false;
  if (req->flags & SK_F_PARENTS) {
    if (mkdir_p(r, req->path, mode, &created, err) < 0)
      return -1;
  } else {
    cleanup_free char *owned = NULL;
    const char *name;
    cleanup_close int pfd = open_parent(r, req->path, &owned, &name, "mkdir", err);
    if (pfd < 0)
      return -1;
    if (mkdirat(pfd, name, mode) < 0)
      return sk_error_errno(err, "mkdir `%s`", req->path);
    created = true;
  }
  if (req->has_mode && created) {
    /* Exactly the mode asked for, whatever the umask. */
    cleanup_close int fd = resolve(r, req->path, O_RDONLY | O_DIRECTORY, 0, err);
    if (fd < 0)
      return -1;
    if (fchmod(fd, mode) < 0)
      return sk_error_errno(err, "chmod `%s`", req->path);
  }
  char res[32];
  int n = snprintf(res, sizeof res, "{\"created\":%s}", created ? "true" : "false");
  conn_send(r, c, SK_RES_RESULT, res, (size_t)n);
  return 0;
}

/* ---- remove ---- */

/* rm -r below dirfd/name: names come from readdir and are opened with O_NOFOLLOW one level at
 * a time, so a symlink inside the tree is removed, never followed. */
static int remove_tree(int parent, const char *name, const char *top, int depth, sk_error_t *err) {
  if (depth > MAX_TREE_DEPTH)
    return sk_error_set(err, ELOOP, "remove `%s`: deeper than %d levels", top, MAX_TREE_DEPTH);
  int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return sk_error_errno(err, "remove `%s`: open `%s`", top, name);
  cleanup_dir DIR *d = fdopendir(fd);
  if (d == NULL) {
    close(fd);
    return sk_error_errno(err, "remove `%s`: fdopendir", top);
  }
  for (;;) {
    errno = 0;
    struct dirent *e = readdir(d);
    if (e == NULL) {
      if (errno != 0)
        return sk_error_errno(err, "remove `%s`: readdir", top);
      break;
    }
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      is_dir = fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    if (is_dir) {
      if (remove_tree(dirfd(d), e->d_name, top, depth + 1, err) < 0)
        return -1;
    } else if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != ENOENT) {
      return sk_error_errno(err, "remove `%s`: unlink `%s`", top, e->d_name);
    }
  }
  if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return sk_error_errno(err, "remove `%s`: rmdir", top);
  return 0;
}

static int fs_remove(struct runner *r, struct conn *c, struct sk_req *req, sk_error_t *err) {
  cleanup_free char *owned = NULL;
  const char *name;
  cleanup_close int pfd = open_parent(r, req->path, &owned, &name, "remove", err);
  if (pfd < 0)
    return -1;
  if (unlinkat(pfd, name, 0) == 0) {
    send_result_empty(r, c);
    return 0;
  }
  if (errno != EISDIR)
    return sk_error_errno(err, "remove `%s`", req->path);
  if (req->flags & SK_F_RECURSIVE) {
    if (remove_tree(pfd, name, req->path, 0, err) < 0)
      return -1;
  } else if (unlinkat(pfd, name, AT_REMOVEDIR) < 0) {
    return sk_error_errno(err, "remove `%s`", req->path);
  }
  send_result_empty(r, c);
  return 0;
}

/* ---- rename ---- */

static int fs_rename(struct runner *r, struct conn *c, struct sk_req *req, sk_error_t *err) {
  cleanup_free char *owned1 = NULL, *owned2 = NULL;
  const char *name1, *name2;
  cleanup_close int pfd1 = open_parent(r, req->path, &owned1, &name1, "rename", err);
  if (pfd1 < 0)
    return -1;
  if (req->flags & SK_F_PARENTS) {
    const char *n;
    cleanup_free char *parent = split_path(req->path2, &n);
    bool created = false;
    if (!special_name(n) && mkdir_p(r, parent, 0777, &created, err) < 0)
      return -1;
  }
  cleanup_close int pfd2 = open_parent(r, req->path2, &owned2, &name2, "rename", err);
  if (pfd2 < 0)
    return -1;
  unsigned flags = (req->flags & SK_F_NOREPLACE) ? RENAME_NOREPLACE : 0;
  if (renameat2(pfd1, name1, pfd2, name2, flags) < 0)
    return sk_error_errno(err, "rename `%s` to `%s`", req->path, req->path2);
  send_result_empty(r, c);
  return 0;
}

/* ---- read: META (the file's stat), then OUT chunks, then RESULT ---- */

struct read_op {
  int fd;
  uint64_t offset, remaining, sent;
};

static void read_frame(struct runner *r, struct conn *c, uint8_t type, const uint8_t *p, size_t n);
static void read_produce(struct runner *r, struct conn *c);
static void read_abort(struct runner *r, struct conn *c);
static const struct op_ops read_ops = {"fs.read", read_frame, read_produce, read_abort};

static void read_end(struct runner *r, struct conn *c, bool eof, const sk_error_t *err) {
  struct read_op *op = c->op_data;
  if (err != NULL) {
    conn_send_error(r, c, err);
  } else {
    char res[96];
    int n = snprintf(res, sizeof res, "{\"bytes\":%llu,\"eof\":%s}", (unsigned long long)op->sent,
                     eof ? "true" : "false");
    conn_send(r, c, SK_RES_RESULT, res, (size_t)n);
  }
  close(op->fd);
  free(op);
  conn_op_done(r, c);
}

static void read_produce(struct runner *r, struct conn *c) {
  struct read_op *op = c->op_data;
  while (!c->closing && conn_pending(c) < SK_OUT_HIGH) {
    if (op->remaining == 0) {
      read_end(r, c, false, NULL);
      return;
    }
    size_t want = op->remaining < SK_CHUNK ? (size_t)op->remaining : SK_CHUNK;
    size_t mark = sk_frame_begin(&c->out, SK_RES_OUT);
    uint8_t *dst = sk_buf_reserve(&c->out, want);
    ssize_t n = pread(op->fd, dst, want, (off_t)op->offset);
    if (n <= 0) {
      sk_error_t err;
      int e = errno;
      c->out.len = mark; /* take the empty frame back */
      if (n == 0) {
        read_end(r, c, true, NULL);
        return;
      }
      if (e == EINTR)
        continue;
      sk_error_set(&err, e, "read");
      read_end(r, c, false, &err);
      return;
    }
    sk_buf_commit(&c->out, (size_t)n);
    sk_frame_end(&c->out, mark);
    op->offset += (uint64_t)n;
    op->remaining -= (uint64_t)n;
    op->sent += (uint64_t)n;
    conn_flush(r, c);
  }
}

static void read_frame(struct runner *r, struct conn *c, uint8_t type, const uint8_t *p, size_t n) {
  (void)p;
  (void)n;
  if (type != SK_IN_CANCEL) {
    conn_close(r, c);
    return;
  }
  read_end(r, c, false, NULL); /* stop early; RESULT says how much was sent */
}

static void read_abort(struct runner *r, struct conn *c) {
  (void)r;
  struct read_op *op = c->op_data;
  close(op->fd);
  free(op);
}

static int fs_read(struct runner *r, struct conn *c, struct sk_req *req, sk_error_t *err) {
  /* O_NONBLOCK: opening a FIFO must not hang the runner; it is refused below anyway. */
  cleanup_close int fd = resolve(r, req->path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0, err);
  if (fd < 0)
    return -1;
  struct stat st;
  if (fstat(fd, &st) < 0)
    return sk_error_errno(err, "stat `%s`", req->path);
  if (S_ISDIR(st.st_mode))
    return sk_error_set(err, EISDIR, "read `%s`", req->path);
  if (!S_ISREG(st.st_mode))
    return sk_error_set(err, EINVAL, "read `%s`: not a regular file (%s)", req->path, type_name(st.st_mode));
  const char *name;
  cleanup_free char *parent = split_path(req->path, &name);
  struct sk_buf b = {0};
  struct sk_json j;
  sk_json_init(&j, &b);
  entry_json(&j, name, &st, -1);
  conn_send_buf(r, c, SK_RES_META, &b);
  sk_buf_free(&b);
  struct read_op *op = xcalloc(1, sizeof *op);
  op->fd = steal_fd(&fd);
  op->offset = req->offset;
  op->remaining = req->has_length ? req->length : UINT64_MAX;
  c->op = &read_ops;
  c->op_data = op;
  read_produce(r, c);
  return 0;
}

/* ---- write: META (go-ahead), then DATA… END from the client, then RESULT ---- */

struct write_op {
  int fd;
  uint64_t bytes;
};

static void write_frame(struct runner *r, struct conn *c, uint8_t type, const uint8_t *p, size_t n);
static void write_abort(struct runner *r, struct conn *c);
static const struct op_ops write_ops = {"fs.write", write_frame, NULL, write_abort};

static void write_end(struct runner *r, struct conn *c, const sk_error_t *err, bool upload_open) {
  struct write_op *op = c->op_data;
  sk_error_t close_err;
  if (close(op->fd) < 0 && err == NULL) {
    sk_error_errno(&close_err, "close");
    err = &close_err;
  }
  if (err != NULL) {
    conn_send_error(r, c, err);
    c->skip_stream = upload_open;
  } else {
    char res[64];
    int n = snprintf(res, sizeof res, "{\"bytes\":%llu}", (unsigned long long)op->bytes);
    conn_send(r, c, SK_RES_RESULT, res, (size_t)n);
  }
  free(op);
  conn_op_done(r, c);
}

static void write_frame(struct runner *r, struct conn *c, uint8_t type, const uint8_t *p, size_t n) {
  struct write_op *op = c->op_data;
  sk_error_t err;
  switch (type) {
  case SK_IN_DATA:
    if (write_all(op->fd, p, n) < 0) {
      sk_error_errno(&err, "write");
      write_end(r, c, &err, true);
      return;
    }
    op->bytes += n;
    return;
  case SK_IN_END:
    write_end(r, c, NULL, false);
    return;
  default:
    sk_error_code(&err, "CANCELLED", "write cancelled after %llu bytes", (unsigned long long)op->bytes);
    write_end(r, c, &err, true);
    return;
  }
}

static void write_abort(struct runner *r, struct conn *c) {
  (void)r;
  struct write_op *op = c->op_data;
  close(op->fd);
  free(op);
}

static int fs_write(struct runner *r, struct conn *c, struct sk_req *req, sk_error_t *err) {
  if (req->flags & SK_F_PARENTS) {
    const char *name;
    cleanup_free char *parent = split_path(req->path, &name);
    bool created = false;
    if (!special_name(name) && mkdir_p(r, parent, 0777, &created, err) < 0)
      return -1;
  }
  int flags = O_WRONLY | O_CREAT | O_NONBLOCK | O_NOCTTY;
  flags |= (req->flags & SK_F_APPEND) ? O_APPEND : O_TRUNC;
  if (req->flags & SK_F_EXCL)
    flags |= O_EXCL;
  mode_t mode = req->has_mode ? (mode_t)req->mode : 0666;
  cleanup_close int fd = resolve(r, req->path, flags, mode, err);
  if (fd < 0)
    return -1;
  struct stat st;
  if (fstat(fd, &st) < 0)
    return sk_error_errno(err, "stat `%s`", req->path);
  if (!S_ISREG(st.st_mode))
    return sk_error_set(err, EINVAL, "write `%s`: not a regular file (%s)", req->path, type_name(st.st_mode));
  if (req->has_mode && fchmod(fd, mode) < 0)
    return sk_error_errno(err, "chmod `%s`", req->path);
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
    return sk_error_errno(err, "fcntl `%s`", req->path);
  struct write_op *op = xcalloc(1, sizeof *op);
  op->fd = steal_fd(&fd);
  c->op = &write_ops;
  c->op_data = op;
  conn_send(r, c, SK_RES_META, "{}", 2);
  return 0;
}

/* ---- list: ENTRIES batches, then RESULT ---- */

struct list_op {
  DIR *d;
  uint64_t count;
};

static void list_frame(struct runner *r, struct conn *c, uint8_t type, const uint8_t *p, size_t n);
static void list_produce(struct runner *r, struct conn *c);
static void list_abort(struct runner *r, struct conn *c);
static const struct op_ops list_ops = {"fs.list", list_frame, list_produce, list_abort};

static void list_end(struct runner *r, struct conn *c, const sk_error_t *err) {
  struct list_op *op = c->op_data;
  if (err != NULL) {
    conn_send_error(r, c, err);
  } else {
    char res[64];
    int n = snprintf(res, sizeof res, "{\"count\":%llu}", (unsigned long long)op->count);
    conn_send(r, c, SK_RES_RESULT, res, (size_t)n);
  }
  closedir(op->d);
  free(op);
  conn_op_done(r, c);
}

static void list_produce(struct runner *r, struct conn *c) {
  struct list_op *op = c->op_data;
  while (!c->closing && conn_pending(c) < SK_OUT_HIGH) {
    struct sk_buf b = {0};
    struct sk_json j;
    sk_json_init(&j, &b);
    sk_json_arr_begin(&j);
    bool done = false;
    while (b.len < ENTRIES_BATCH) {
      errno = 0;
      struct dirent *e = readdir(op->d);
      if (e == NULL) {
        if (errno != 0) {
          sk_error_t err;
          sk_error_errno(&err, "readdir");
          sk_buf_free(&b);
          list_end(r, c, &err);
          return;
        }
        done = true;
        break;
      }
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
        continue;
      struct stat st;
      if (fstatat(dirfd(op->d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        continue; /* removed since readdir saw it */
      entry_json(&j, e->d_name, &st, dirfd(op->d));
      op->count++;
    }
    sk_json_arr_end(&j);
    if (b.len > 2)
      conn_send_buf(r, c, SK_RES_ENTRIES, &b);
    sk_buf_free(&b);
    if (done) {
      list_end(r, c, NULL);
      return;
    }
  }
}

static void list_frame(struct runner *r, struct conn *c, uint8_t type, const uint8_t *p, size_t n) {
  (void)p;
  (void)n;
  if (type != SK_IN_CANCEL) {
    conn_close(r, c);
    return;
  }
  list_end(r, c, NULL);
}

static void list_abort(struct runner *r, struct conn *c) {
  (void)r;
  struct list_op *op = c->op_data;
  closedir(op->d);
  free(op);
}

static int fs_list(struct runner *r, struct conn *c, struct sk_req *req, sk_error_t *err) {
  int fd = resolve(r, req->path, O_RDONLY | O_DIRECTORY, 0, err);
  if (fd < 0)
    return -1;
  DIR *d = fdopendir(fd);
  if (d == NULL) {
    close(fd);
    return sk_error_errno(err, "fdopendir `%s`", req->path);
  }
  struct list_op *op = xcalloc(1, sizeof *op);
  op->d = d;
  c->op = &list_ops;
  c->op_data = op;
  list_produce(r, c);
  return 0;
}

void fs_request(struct runner *r, struct conn *c, struct sk_req *req) {
  sk_error_t err;
  int rc;
  if ((req->path != NULL && req->path[0] == '\0') || (req->path2 != NULL && req->path2[0] == '\0')) {
    sk_error_code(&err, "BAD_REQUEST", "%s: empty path", sk_frame_type_name(req->type));
    conn_send_error(r, c, &err);
    return;
  }
  switch (req->type) {
  case SK_REQ_FS_READ:
    rc = fs_read(r, c, req, &err);
    break;
  case SK_REQ_FS_WRITE:
    rc = fs_write(r, c, req, &err);
    break;
  case SK_REQ_FS_LIST:
    rc = fs_list(r, c, req, &err);
    break;
  case SK_REQ_FS_STAT:
    rc = fs_stat(r, c, req, &err);
    break;
  case SK_REQ_FS_MKDIR:
    rc = fs_mkdir(r, c, req, &err);
    break;
  case SK_REQ_FS_REMOVE:
    rc = fs_remove(r, c, req, &err);
    break;
  case SK_REQ_FS_RENAME:
    rc = fs_rename(r, c, req, &err);
    break;
  default:
    rc = sk_error_code(&err, "BAD_REQUEST", "unknown fs request 0x%02x", req->type);
    break;
  }
  if (rc < 0)
    conn_send_error(r, c, &err);
}
