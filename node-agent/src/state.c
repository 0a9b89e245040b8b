/* <root>/<id>/state.json: written once by create/run, read by every other command. The status is
 * derived from the live system on every load. */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include "json.h"
#include "util.h"

#define SK_OCI_VERSION "1.2.0"
#define SK_LOCK_TIMEOUT_MS 10000

int state_check_id(const char *id, sk_error_t *err) {
  size_t n = strlen(id);
  if (n == 0 || n > 255 || id[0] == '.')
    return sk_error_set(err, EINVAL, "invalid container id `%s`: 1-255 characters of [A-Za-z0-9_.-], not starting with `.`", id);
  for (const char *p = id; *p != '\0'; p++) {
    char c = *p;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
      return sk_error_set(err, EINVAL, "invalid container id `%s`: 1-255 characters of [A-Za-z0-9_.-], not starting with `.`", id);
  }
  return 0;
}

int state_proc_start_time(pid_t pid, unsigned long long *start_time, bool *zombie) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  /* The command name may contain anything, so fields are counted after its last ')'. */
  char *p = strrchr(buf, ')');
  if (p == NULL || p[1] != ' ')
    return -1;
  char state = p[2];
  p += 2;
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (p == NULL)
      return -1;
    p++;
  }
  if (zombie != NULL)
    *zombie = state == 'Z' || state == 'X';
  *start_time = strtoull(p, NULL, 10);
  return 0;
}

void state_refresh(sk_state_t *st) {
  if (st->pid <= 0) {
    st->status = SK_STATUS_CREATING;
    return;
  }
  unsigned long long t;
  bool zombie = false;
  if (state_proc_start_time(st->pid, &t, &zombie) < 0 || zombie || t != st->start_time) {
    st->status = SK_STATUS_STOPPED;
    return;
  }
  char fifo[PATH_MAX + 16];
  snprintf(fifo, sizeof fifo, "%s/exec.fifo", st->dir);
  st->status = access(fifo, F_OK) == 0 ? SK_STATUS_CREATED : SK_STATUS_RUNNING;
}

const char *state_status_name(sk_status_t s) {
  switch (s) {
  case SK_STATUS_CREATING:
    return "creating";
  case SK_STATUS_CREATED:
    return "created";
  case SK_STATUS_RUNNING:
    return "running";
  default:
    return "stopped";
  }
}

static int load_cgroup(const sk_json_t *cg, sk_state_t *st) {
  const sk_json_t *mode = json_get(cg, "mode"), *path = json_get(cg, "path");
  int64_t m;
  if (!json_int64(mode, &m) || (m != SK_CGROUP_V1 && m != SK_CGROUP_V2) || path == NULL || path->type != SK_JSON_STRING ||
      path->u.string.len >= sizeof st->cgroup.path)
    return -1;
  st->has_cgroup = true;
  st->cgroup.mode = (sk_cgroup_mode_t)m;
  memcpy(st->cgroup.path, path->u.string.s, path->u.string.len + 1);
  return 0;
}

static int load_annotations(const sk_json_t *a, sk_state_t *st) {
  if (a == NULL)
    return 0;
  if (a->type != SK_JSON_OBJECT)
    return -1;
  st->annotations = xcalloc(a->u.object.n, sizeof(sk_annotation_t));
  for (size_t i = 0; i < a->u.object.n; i++) {
    const sk_json_member_t *m = &a->u.object.members[i];
    if (m->value.type != SK_JSON_STRING)
      return -1;
    st->annotations[i].key = xstrdup(m->key);
    st->annotations[i].value = xstrdup(m->value.u.string.s);
    st->n_annotations++;
  }
  return 0;
}

static int copy_str(const sk_json_t *v, char *out, size_t size) {
  if (v == NULL || v->type != SK_JSON_STRING || v->u.string.len >= size)
    return -1;
  memcpy(out, v->u.string.s, v->u.string.len + 1);
  return 0;
}

static int load_doc(const sk_json_t *doc, sk_state_t *st) {
  int64_t pid;
  uint64_t start;
  const sk_json_t *cg = json_get(doc, "cgroup");
  if (!json_int64(json_get(doc, "pid"), &pid) || !json_uint64(json_get(doc, "startTime"), &start) ||
      copy_str(json_get(doc, "bundle"), st->bundle, sizeof st->bundle) < 0 ||
      copy_str(json_get(doc, "created"), st->created, sizeof st->created) < 0)
    return -1;
  st->pid = (pid_t)pid;
  st->start_time = start;
  if (cg != NULL && load_cgroup(cg, st) < 0)
    return -1;
  return load_annotations(json_get(doc, "annotations"), st);
}

int state_load(const char *root, const char *id, sk_state_t *st, sk_error_t *err) {
  memset(st, 0, sizeof *st);
  if (state_check_id(id, err) < 0)
    return -1;
  snprintf(st->id, sizeof st->id, "%s", id);
  if ((size_t)snprintf(st->dir, sizeof st->dir, "%s/%s", root, id) >= sizeof st->dir)
    return sk_error_set(err, ENAMETOOLONG, "state directory for `%s` is too long", id);
  cleanup_free char *path = xasprintf("%s/state.json", st->dir), *buf = NULL;
  size_t len;
  if (read_file_at(AT_FDCWD, path, 1u << 20, &buf, &len, err) < 0) {
    if (err->errno_ != ENOENT)
      return -1;
    struct stat sb;
    if (stat(st->dir, &sb) < 0)
      return sk_error_set(err, ENOENT, "container `%s` does not exist", id);
    st->status = SK_STATUS_CREATING; /* a create in progress, or one that crashed */
    return 0;
  }
  sk_json_t doc = {0};
  int r = json_parse(buf, len, &doc, err);
  if (r == 0 && load_doc(&doc, st) < 0)
    r = sk_error_set(err, EINVAL, "`%s`: malformed state", path);
  json_free(&doc);
  if (r < 0) {
    state_free(st);
    return -1;
  }
  state_refresh(st);
  return 0;
}

static void write_annotations(FILE *f, const sk_state_t *st) {
  fputs("{", f);
  for (size_t i = 0; i < st->n_annotations; i++) {
    if (i)
      fputc(',', f);
    json_write_string(f, st->annotations[i].key);
    fputc(':', f);
    json_write_string(f, st->annotations[i].value);
  }
  fputs("}", f);
}

int state_save(const sk_state_t *st, sk_error_t *err) {
  cleanup_free char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (f == NULL)
    return sk_error_errno(err, "open_memstream");
  fprintf(f, "{\"ociVersion\":\"%s\",\"id\":", SK_OCI_VERSION);
  json_write_string(f, st->id);
  fprintf(f, ",\"pid\":%d,\"startTime\":%llu,\"bundle\":", (int)st->pid, st->start_time);
  json_write_string(f, st->bundle);
  fputs(",\"created\":", f);
  json_write_string(f, st->created);
  if (st->has_cgroup) {
    fprintf(f, ",\"cgroup\":{\"mode\":%d,\"path\":", (int)st->cgroup.mode);
    json_write_string(f, st->cgroup.path);
    fputc('}', f);
  }
  fputs(",\"annotations\":", f);
  write_annotations(f, st);
  fputs("}\n", f);
  if (fclose(f) != 0)
    return sk_error_errno(err, "write state");
  cleanup_free char *path = xasprintf("%s/state.json", st->dir);
  return write_file_atomic(path, buf, len, 0600, err);
}

void state_print_json(FILE *f, const sk_state_t *st, long long oom_kills) {
  bool live = st->status == SK_STATUS_CREATED || st->status == SK_STATUS_RUNNING;
  fprintf(f, "{\"ociVersion\":\"%s\",\"id\":", SK_OCI_VERSION);
  json_write_string(f, st->id);
  fprintf(f, ",\"status\":\"%s\",\"pid\":%d,\"bundle\":", state_status_name(st->status), live ? (int)st->pid : 0);
  json_write_string(f, st->bundle);
  fputs(",\"created\":", f);
  json_write_string(f, st->created);
  fputs(",\"annotations\":", f);
  write_annotations(f, st);
  if (oom_kills >= 0)
    fprintf(f, ",\"oomKills\":%lld", oom_kills);
  fputc('}', f);
}

int state_remove(const sk_state_t *st, sk_error_t *err) {
  if (remove_tree(st->dir, err) < 0)
    return sk_error_wrap(err, "remove state of `%s`", st->id);
  return 0;
}

int state_lock(const sk_state_t *st, sk_error_t *err) {
  int fd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? sk_error_set(err, ENOENT, "container `%s` does not exist", st->id) : sk_error_errno(err, "open `%s`", st->dir);
  /* Bounded: a stuck holder must not hang every later command on this container. */
  struct timespec pause = {0, 1000000};
  for (int waited_ms = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; waited_ms += (int)(pause.tv_nsec / 1000000)) {
    if (errno != EWOULDBLOCK || waited_ms >= SK_LOCK_TIMEOUT_MS) {
      if (errno == EWOULDBLOCK)
        sk_error_set(err, EBUSY, "container `%s` is busy: another operation has held its lock for %d ms", st->id, waited_ms);
      else
        sk_error_errno(err, "lock `%s`", st->dir);
      close(fd);
      return -1;
    }
    nanosleep(&pause, NULL);
    if (pause.tv_nsec < 32000000)
      pause.tv_nsec *= 2;
  }
  return fd;
}

void state_free(sk_state_t *st) {
  for (size_t i = 0; i < st->n_annotations; i++) {
    free(st->annotations[i].key);
    free(st->annotations[i].value);
  }
  free(st->annotations);
  st->annotations = NULL;
  st->n_annotations = 0;
}
