/* The event loop: one epoll set for the listening socket, the signalfd, every connection, the
 * shell's PTY and the pipes of one-shot processes. Connections carry one operation at a time;
 * concurrency comes from concurrent connections. */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "json.h"
#include "runner.h"

#define MAX_CONNS 512

int watch_add(struct runner *r, struct sk_watch *w, int fd, uint32_t events,
              void (*fn)(struct runner *, struct sk_watch *, uint32_t), sk_error_t *err) {
  struct epoll_event ev = {.events = events, .data.ptr = w};
  w->fd = fd;
  w->events = events;
  w->fn = fn;
  if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
    w->fd = -1;
    return sk_error_errno(err, "epoll_ctl add fd %d", fd);
  }
  return 0;
}

void watch_set(struct runner *r, struct sk_watch *w, uint32_t events) {
  if (w->fd < 0 || w->events == events)
    return;
  struct epoll_event ev = {.events = events, .data.ptr = w};
  if (epoll_ctl(r->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0) {
    sk_log("error", "epoll_ctl mod fd %d: %s", w->fd, strerror(errno));
    return;
  }
  w->events = events;
}

void watch_del(struct runner *r, struct sk_watch *w) {
  if (w->fd < 0)
    return;
  /* The fd is closed by its owner right after; a failure here only means it is gone already. */
  (void)epoll_ctl(r->epfd, EPOLL_CTL_DEL, w->fd, NULL);
  w->fd = -1;
}

void runner_defer_free(struct runner *r, void (*fn)(void *), void *p) {
  if (r->ndeferred == r->cap_deferred) {
    r->cap_deferred = r->cap_deferred ? 2 * r->cap_deferred : 16;
    r->deferred = xrealloc(r->deferred, r->cap_deferred * sizeof *r->deferred);
  }
  r->deferred[r->ndeferred++] = (struct deferred){fn, p};
}

static void run_deferred(struct runner *r) {
  /* A deferred free may defer more; take the list first. */
  while (r->ndeferred > 0) {
    struct deferred d = r->deferred[--r->ndeferred];
    d.fn(d.p);
  }
}

/* ---- connections ---- */

static void conn_event(struct runner *r, struct sk_watch *w, uint32_t events);
static void conn_process_input(struct runner *r, struct conn *c);

size_t conn_pending(const struct conn *c) { return c->out.len; }

/* EPOLLIN unless an upload waits or a client that does not read piles up responses. */
static void conn_update(struct runner *r, struct conn *c) {
  if (c->closing)
    return;
  uint32_t ev = 0;
  bool backlog = c->op == NULL && c->out.len > SK_OUT_HIGH;
  if (!c->input_paused && !backlog)
    ev |= EPOLLIN;
  if (c->out.len > 0)
    ev |= EPOLLOUT;
  watch_set(r, &c->w, ev);
}

void conn_flush(struct runner *r, struct conn *c) {
  while (c->out.len > 0 && !c->closing) {
    ssize_t n = send(c->w.fd, sk_buf_head(&c->out), c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN)
        break;
      conn_close(r, c); /* EPIPE, ECONNRESET: the client is gone */
      return;
    }
    sk_buf_consume(&c->out, (size_t)n);
  }
  if (c->out.len == 0)
    sk_buf_shrink(&c->out);
  conn_update(r, c);
}

void conn_send(struct runner *r, struct conn *c, uint8_t type, const void *p, size_t n) {
  if (c->closing)
    return;
  /* With a backlog the socket is full and EPOLLOUT armed: sending now would only fail. */
  bool backlog = c->out.len > 0;
  sk_frame_put(&c->out, type, p, n);
  if (!backlog)
    conn_flush(r, c);
}

void conn_send_buf(struct runner *r, struct conn *c, uint8_t type, const struct sk_buf *b) {
  conn_send(r, c, type, sk_buf_head(b), b->len);
}

void conn_send_error(struct runner *r, struct conn *c, const sk_error_t *err) {
  struct sk_buf b = {0};
  struct sk_json j;
  sk_json_init(&j, &b);
  sk_json_obj_begin(&j);
  sk_json_key(&j, "code");
  sk_json_str(&j, sk_error_code_name(err));
  sk_json_key(&j, "errno");
  sk_json_i64(&j, err->errno_);
  sk_json_key(&j, "message");
  sk_json_str(&j, err->msg);
  sk_json_obj_end(&j);
  conn_send_buf(r, c, SK_RES_ERROR, &b);
  sk_buf_free(&b);
}

bool conn_hung_up(struct runner *r, struct conn *c) {
  if (c->closing)
    return true;
  struct pollfd p = {.fd = c->w.fd, .events = POLLRDHUP};
  if (poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
    conn_close(r, c);
    return true;
  }
  return false;
}

void conn_op_done(struct runner *r, struct conn *c) {
  c->op = NULL;
  c->op_data = NULL;
  conn_update(r, c);
  /* Frames that arrived meanwhile (a late CANCEL, the END of a dropped upload). */
  conn_process_input(r, c);
}

void conn_set_input_paused(struct runner *r, struct conn *c, bool paused) {
  if (c->input_paused == paused)
    return;
  c->input_paused = paused;
  conn_update(r, c);
  if (!paused)
    conn_process_input(r, c);
}

static void conn_free(void *p) {
  struct conn *c = p;
  sk_buf_free(&c->in);
  sk_buf_free(&c->out);
  free(c);
}

void conn_close(struct runner *r, struct conn *c) {
  if (c->closing)
    return;
  c->closing = true;
  if (c->op != NULL) {
    const struct op_ops *op = c->op;
    c->op = NULL;
    op->abort(r, c);
  }
  int fd = c->w.fd;
  watch_del(r, &c->w);
  close(fd);
  if (c->prev)
    c->prev->next = c->next;
  else
    r->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  r->nconns--;
  runner_defer_free(r, conn_free, c);
}

/* Out of fds, a pending connection would wake a level-triggered epoll forever: give up a
 * reserved fd to accept it and hang up at once, so the client sees an error, not a hang. */
static void accept_shed(struct runner *r, int listenfd) {
  if (r->reserve_fd >= 0) {
    close(r->reserve_fd);
    r->reserve_fd = -1;
  }
  int fd = accept4(listenfd, NULL, NULL, SOCK_CLOEXEC);
  if (fd >= 0)
    close(fd);
  r->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  sk_log("warn", "out of file descriptors: refused a connection");
}

static void accept_event(struct runner *r, struct sk_watch *w, uint32_t events) {
  (void)events;
  for (;;) {
    int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      if (errno == EMFILE || errno == ENFILE)
        accept_shed(r, w->fd);
      else if (errno != EAGAIN)
        sk_log("error", "accept: %s", strerror(errno));
      return;
    }
    if (r->nconns >= MAX_CONNS) {
      sk_log("warn", "refusing a connection: %d connections open", MAX_CONNS);
      close(fd);
      continue;
    }
    struct conn *c = xcalloc(1, sizeof *c);
    sk_error_t err;
    if (watch_add(r, &c->w, fd, EPOLLIN, conn_event, &err) < 0) {
      sk_log("error", "%s", err.msg);
      close(fd);
      free(c);
      continue;
    }
    c->id = ++r->next_conn_id;
    c->next = r->conns;
    if (r->conns)
      r->conns->prev = c;
    r->conns = c;
    r->nconns++;
  }
}

/* ---- requests ---- */

static void info_request(struct runner *r, struct conn *c) {
  struct sk_buf b = {0};
  struct sk_json j;
  sk_json_init(&j, &b);
  sk_json_obj_begin(&j);
  sk_json_key(&j, "protocol");
  sk_json_u64(&j, SK_PROTOCOL_VERSION);
  sk_json_key(&j, "version");
  sk_json_str(&j, SK_RUNNER_VERSION);
  sk_json_key(&j, "pid");
  sk_json_i64(&j, getpid());
  sk_json_key(&j, "pid1");
  sk_json_bool(&j, r->pid1);
  sk_json_key(&j, "uptimeMs");
  sk_json_ms(&j, (double)(now_ns() - r->start_ns) / 1e6);
  sk_json_key(&j, "shell");
  sk_json_str(&j, r->opts.shell);
  sk_json_key(&j, "shellPid");
  if (r->shell.pid > 0)
    sk_json_i64(&j, r->shell.pid);
  else
    sk_json_null(&j);
  sk_json_key(&j, "shellAlive");
  sk_json_bool(&j, r->shell.pid > 0);
  sk_json_key(&j, "shellState");
  sk_json_str(&j, shell_state_name(r->shell.state));
  sk_json_key(&j, "execs");
  sk_json_u64(&j, r->exec_count);
  sk_json_key(&j, "connections");
  sk_json_u64(&j, r->nconns);
  sk_json_key(&j, "fsRoot");
  sk_json_str(&j, r->opts.fs_root);
  sk_json_key(&j, "outputCap");
  sk_json_u64(&j, r->opts.output_cap);
  sk_json_obj_end(&j);
  conn_send_buf(r, c, SK_RES_RESULT, &b);
  sk_buf_free(&b);
}

static void handle_request(struct runner *r, struct conn *c, uint8_t type, const uint8_t *p, size_t n) {
  struct sk_req req;
  sk_error_t err;
  if (sk_req_parse(type, p, n, &req, &err) < 0) {
    conn_send_error(r, c, &err);
    sk_req_free(&req);
    return;
  }
  if (r->shutting_down && type != SK_REQ_INFO) {
    sk_error_code(&err, "SHUTTING_DOWN", "%s: the runner is shutting down", sk_frame_type_name(type));
    conn_send_error(r, c, &err);
    sk_req_free(&req);
    return;
  }
  switch (type) {
  case SK_REQ_EXEC:
    exec_begin(r, c, &req);
    break;
  case SK_REQ_RUN:
    run_begin(r, c, &req);
    break;
  case SK_REQ_SIGNAL:
    signal_request(r, c, &req);
    break;
  case SK_REQ_INFO:
    info_request(r, c);
    break;
  case SK_REQ_SHUTDOWN:
    conn_send(r, c, SK_RES_RESULT, "{}", 2);
    runner_shutdown_begin(r, "shutdown request");
    break;
  default:
    fs_request(r, c, &req);
    break;
  }
  sk_req_free(&req);
}

/* Returns false when the connection must end (protocol violation). */
static bool handle_frame(struct runner *r, struct conn *c, uint8_t type, const uint8_t *p, size_t n) {
  bool stream = type == SK_IN_DATA || type == SK_IN_END;
  if (c->skip_stream && stream) {
    if (type == SK_IN_END)
      c->skip_stream = false;
    return true;
  }
  if (c->op != NULL) {
    if (!stream && type != SK_IN_CANCEL)
      return false; /* one operation at a time */
    c->op->frame(r, c, type, p, n);
    return true;
  }
  if (type == SK_IN_CANCEL)
    return true; /* crossed the operation's final frame */
  if (stream || !sk_frame_is_request(type))
    return false;
  handle_request(r, c, type, p, n);
  return true;
}

/* The stream cannot be trusted past a bad frame: say why, then hang up. */
static void protocol_error(struct runner *r, struct conn *c, sk_error_t *err) {
  conn_send_error(r, c, err);
  c->input_paused = true;
  conn_flush(r, c);
  conn_close(r, c);
}

static void conn_process_input(struct runner *r, struct conn *c) {
  if (c->processing)
    return; /* an outer call on this connection keeps going */
  c->processing = true;
  while (!c->closing && !c->input_paused && !(c->op == NULL && c->out.len > SK_OUT_HIGH)) {
    uint8_t type;
    uint32_t len;
    if (!sk_frame_header(sk_buf_head(&c->in), c->in.len, &type, &len))
      break;
    if (len > SK_FRAME_MAX) {
      sk_error_t err;
      sk_error_code(&err, "PROTOCOL", "frame of %u bytes is larger than the limit of %u", len, SK_FRAME_MAX);
      protocol_error(r, c, &err);
      break;
    }
    if (c->in.len < SK_FRAME_HDR + len)
      break;
    if (!handle_frame(r, c, type, sk_buf_head(&c->in) + SK_FRAME_HDR, len)) {
      sk_error_t err;
      sk_error_code(&err, "PROTOCOL", "unexpected frame type 0x%02x%s", type,
                    c->op != NULL ? " while an operation runs" : "");
      protocol_error(r, c, &err);
      break;
    }
    sk_buf_consume(&c->in, SK_FRAME_HDR + len);
  }
  if (!c->closing && c->in.len == 0)
    sk_buf_shrink(&c->in);
  c->processing = false;
}

static void conn_read(struct runner *r, struct conn *c) {
  for (int i = 0; i < 16 && !c->closing && !c->input_paused; i++) {
    uint8_t type;
    uint32_t len;
    size_t want = SK_CHUNK;
    /* Room for the whole frame being received, so big frames take few reads. */
    if (sk_frame_header(sk_buf_head(&c->in), c->in.len, &type, &len) && len <= SK_FRAME_MAX &&
        SK_FRAME_HDR + len > c->in.len)
      want = SK_FRAME_HDR + len - c->in.len;
    if (want < SK_CHUNK)
      want = SK_CHUNK;
    uint8_t *dst = sk_buf_reserve(&c->in, want);
    ssize_t n = recv(c->w.fd, dst, want, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN)
        conn_close(r, c);
      return;
    }
    if (n == 0) {
      conn_close(r, c); /* the client is done (or gone): a running operation is aborted */
      return;
    }
    sk_buf_commit(&c->in, (size_t)n);
    conn_process_input(r, c);
    if (c->op != NULL || (size_t)n < want)
      return;
  }
}

static void conn_event(struct runner *r, struct sk_watch *w, uint32_t events) {
  struct conn *c = container_of(w, struct conn, w);
  if (events & EPOLLOUT) {
    conn_flush(r, c);
    if (!c->closing && c->out.len < SK_OUT_HIGH / 2) {
      if (c->op != NULL && c->op->drained != NULL)
        c->op->drained(r, c);
      else
        conn_process_input(r, c);
    }
  }
  if (c->closing)
    return;
  if (events & EPOLLIN)
    conn_read(r, c);
  else if (events & (EPOLLHUP | EPOLLERR))
    conn_close(r, c);
}

/* ---- listening socket and loop ---- */

static int mkdir_parents(const char *path, sk_error_t *err) {
  char buf[sizeof(((struct sockaddr_un *)0)->sun_path)];
  snprintf(buf, sizeof buf, "%s", path);
  char *slash = strrchr(buf, '/');
  if (slash == NULL || slash == buf)
    return 0;
  *slash = '\0';
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(buf, 0755) < 0 && errno != EEXIST)
      return sk_error_errno(err, "mkdir `%s`", buf);
    *p = '/';
  }
  if (mkdir(buf, 0755) < 0 && errno != EEXIST)
    return sk_error_errno(err, "mkdir `%s`", buf);
  return 0;
}

/* Binds a temporary name, listens, then renames it into place: the socket path appears only
 * once it accepts connections, so "the socket exists" means "ready". */
int server_listen(struct runner *r, sk_error_t *err) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  char tmp[sizeof addr.sun_path];
  const char *path = r->opts.socket_path;
  int n = snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
  if (n < 0 || (size_t)n >= sizeof tmp)
    return sk_error_code(err, "BAD_REQUEST", "socket path `%s` is too long for a unix socket", path);
  if (mkdir_parents(path, err) < 0)
    return -1;
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", tmp);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return sk_error_errno(err, "socket");
  r->listenfd = fd;
  if (unlink(tmp) < 0 && errno != ENOENT)
    return sk_error_errno(err, "unlink `%s`", tmp);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
    return sk_error_errno(err, "bind `%s`", tmp);
  if (chmod(tmp, 0600) < 0)
    return sk_error_errno(err, "chmod `%s`", tmp);
  if (listen(fd, 128) < 0)
    return sk_error_errno(err, "listen `%s`", tmp);
  if (rename(tmp, path) < 0)
    return sk_error_errno(err, "rename `%s` to `%s`", tmp, path);
  r->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (r->reserve_fd < 0)
    return sk_error_errno(err, "open /dev/null");
  return watch_add(r, &r->listen_w, fd, EPOLLIN, accept_event, err);
}

static int next_timeout_ms(struct runner *r, uint64_t now) {
  uint64_t d[] = {exec_next_deadline(r), run_next_deadline(r), shell_next_deadline(r), reaper_next_deadline(r)};
  uint64_t min = 0;
  for (size_t i = 0; i < SK_ARRAY_SIZE(d); i++)
    if (d[i] != 0 && (min == 0 || d[i] < min))
      min = d[i];
  if (min == 0)
    return -1;
  if (min <= now)
    return 0;
  uint64_t ms = (min - now + 999999) / 1000000;
  return ms > 60000 ? 60000 : (int)ms;
}

int server_run(struct runner *r, sk_error_t *err) {
  struct epoll_event evs[64];
  while (!r->exit_now) {
    int timeout = next_timeout_ms(r, now_ns());
    int n = epoll_wait(r->epfd, evs, SK_ARRAY_SIZE(evs), timeout);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return sk_error_errno(err, "epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      struct sk_watch *w = evs[i].data.ptr;
      if (w->fd >= 0)
        w->fn(r, w, evs[i].events);
    }
    uint64_t now = now_ns();
    shell_timers(r, now);
    exec_timers(r, now);
    run_timers(r, now);
    reaper_timers(r, now);
    run_deferred(r);
  }
  return 0;
}
