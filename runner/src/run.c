/* run: a one-shot process outside the shell — argv, env, cwd, optional stdin upload — with
 * stdout and stderr as separate streams and its exit code or signal. It runs in its own
 * session (so it has no terminal and its process group can be signalled as a whole). A timeout
 * sends SIGTERM to that group, then SIGKILL after the kill grace; a client that hangs up gets
 * its process group killed at once. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include "json.h"
#include "runner.h"

struct run_pipe {
  struct sk_watch w;
  struct run *run;
  uint8_t frame; /* SK_RES_OUT or SK_RES_ERR */
};

struct run {
  struct run *prev, *next;
  struct conn *conn;
  pid_t pid;
  int status;
  bool exited;
  struct run_pipe out, err;
  struct sk_watch in_w; /* stdin pipe, watched only while an upload waits for room */
  struct sk_buf in_buf;
  bool stdin_upload, in_end;
  uint64_t start_ns, deadline_ns, escalate_at;
  int stage; /* 0 running, 1 SIGTERM sent, 2 SIGKILL sent */
  bool timed_out, cancelled, truncated, paused;
  uint64_t out_bytes, dropped_bytes;
};

static void run_frame(struct runner *r, struct conn *c, uint8_t type, const uint8_t *p, size_t n);
static void run_drained(struct runner *r, struct conn *c);
static void run_abort(struct runner *r, struct conn *c);
static const struct op_ops run_ops = {"run", run_frame, run_drained, run_abort};

static void close_watch(struct runner *r, struct sk_watch *w) {
  int fd = w->fd;
  watch_del(r, w);
  if (fd >= 0)
    close(fd);
}

static void run_free(void *p) {
  struct run *x = p;
  sk_buf_free(&x->in_buf);
  free(x);
}

/* Unlinks the run and releases its fds; the memory goes at the end of the batch, since events
 * for its pipes may still be queued. */
static void run_release(struct runner *r, struct run *x) {
  close_watch(r, &x->out.w);
  close_watch(r, &x->err.w);
  close_watch(r, &x->in_w);
  if (x->prev)
    x->prev->next = x->next;
  else
    r->runs = x->next;
  if (x->next)
    x->next->prev = x->prev;
  runner_defer_free(r, run_free, x);
}

static void signal_group(struct run *x, int sig) {
  if (x->exited)
    return;
  if (kill(-x->pid, sig) < 0 && errno != ESRCH)
    sk_log("warn", "kill process group %d: %s", (int)x->pid, strerror(errno));
}

/* ---- output ---- */

static void deliver(struct runner *r, struct run *x, uint8_t frame, const uint8_t *p, size_t n) {
  uint64_t room = r->opts.output_cap > x->out_bytes ? r->opts.output_cap - x->out_bytes : 0;
  size_t keep = n < room ? n : (size_t)room;
  if (keep < n) {
    x->truncated = true;
    x->dropped_bytes += n - keep;
  }
  if (keep == 0 || x->conn == NULL)
    return;
  x->out_bytes += keep;
  conn_send(r, x->conn, frame, p, keep);
}

/* Reads what the pipe has; returns false at end of file. */
static bool pipe_read(struct runner *r, struct run_pipe *rp, int rounds) {
  static uint8_t buf[SK_CHUNK];
  for (int i = 0; i < rounds && rp->w.fd >= 0; i++) {
    ssize_t n = read(rp->w.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      return true;
    if (n <= 0) {
      close_watch(r, &rp->w);
      return false;
    }
    deliver(r, rp->run, rp->frame, buf, (size_t)n);
  }
  return rp->w.fd >= 0;
}

static void set_paused(struct runner *r, struct run *x, bool paused) {
  if (x->paused == paused)
    return;
  x->paused = paused;
  watch_set(r, &x->out.w, paused ? 0 : EPOLLIN);
  watch_set(r, &x->err.w, paused ? 0 : EPOLLIN);
}

static void run_finish(struct runner *r, struct run *x) {
  struct conn *c = x->conn;
  if (c != NULL) {
    struct sk_buf b = {0};
    struct sk_json j;
    sk_json_init(&j, &b);
    sk_json_obj_begin(&j);
    sk_json_key(&j, "exitCode");
    sk_json_i64(&j, status_code(x->status));
    sk_json_key(&j, "signal");
    if (WIFSIGNALED(x->status))
      sk_json_str(&j, signal_name(WTERMSIG(x->status)));
    else
      sk_json_null(&j);
    sk_json_key(&j, "pid");
    sk_json_i64(&j, x->pid);
    sk_json_key(&j, "durationMs");
    sk_json_ms(&j, (double)(now_ns() - x->start_ns) / 1e6);
    sk_json_key(&j, "timedOut");
    sk_json_bool(&j, x->timed_out);
    sk_json_key(&j, "cancelled");
    sk_json_bool(&j, x->cancelled);
    sk_json_key(&j, "truncated");
    sk_json_bool(&j, x->truncated);
    sk_json_key(&j, "outputBytes");
    sk_json_u64(&j, x->out_bytes + x->dropped_bytes);
    sk_json_obj_end(&j);
    conn_send_buf(r, c, SK_RES_RESULT, &b);
    sk_buf_free(&b);
    /* The client may still be uploading stdin; what comes until its END is dropped. */
    if (x->stdin_upload && !x->in_end)
      c->skip_stream = true;
    c->input_paused = false;
  }
  run_release(r, x);
  if (c != NULL)
    conn_op_done(r, c);
}

static void pipe_event(struct runner *r, struct sk_watch *w, uint32_t events) {
  (void)events;
  struct run_pipe *rp = container_of(w, struct run_pipe, w);
  struct run *x = rp->run;
  pipe_read(r, rp, 16);
  if (x->conn != NULL && !x->conn->closing && conn_pending(x->conn) > SK_OUT_HIGH)
    set_paused(r, x, true);
}

bool run_on_exit(struct runner *r, pid_t pid, int status) {
  struct run *x = r->runs;
  while (x != NULL && x->pid != pid)
    x = x->next;
  if (x == NULL)
    return false;
  x->exited = true;
  x->status = status;
  /* Pipe data is complete once the writer exited; a background child that inherited the pipes
   * may keep them open, so read what is there rather than waiting for end of file. */
  pipe_read(r, &x->out, 32);
  pipe_read(r, &x->err, 32);
  run_finish(r, x);
  return true;
}

/* ---- stdin upload ---- */

static void stdin_close(struct runner *r, struct run *x) {
  close_watch(r, &x->in_w);
  sk_buf_reset(&x->in_buf);
}

/* Writes buffered stdin; pauses the connection while the pipe is full. */
static void stdin_flush(struct runner *r, struct run *x) {
  while (x->in_buf.len > 0 && x->in_w.fd >= 0) {
    ssize_t n = write(x->in_w.fd, sk_buf_head(&x->in_buf), x->in_buf.len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      break;
    if (n < 0) {
      stdin_close(r, x); /* EPIPE: it stopped reading; the rest is dropped */
      break;
    }
    sk_buf_consume(&x->in_buf, (size_t)n);
  }
  bool waiting = x->in_buf.len > 0 && x->in_w.fd >= 0;
  watch_set(r, &x->in_w, waiting ? EPOLLOUT : 0);
  if (!waiting && x->in_end)
    stdin_close(r, x);
  if (x->conn != NULL)
    conn_set_input_paused(r, x->conn, waiting);
}

static void stdin_event(struct runner *r, struct sk_watch *w, uint32_t events) {
  struct run *x = container_of(w, struct run, in_w);
  if (events & (EPOLLERR | EPOLLHUP)) {
    stdin_close(r, x);
    if (x->conn != NULL)
      conn_set_input_paused(r, x->conn, false);
    return;
  }
  stdin_flush(r, x);
}

static void run_frame(struct runner *r, struct conn *c, uint8_t type, const uint8_t *p, size_t n) {
  struct run *x = c->op_data;
  if (type == SK_IN_CANCEL) {
    if (!x->timed_out)
      x->cancelled = true;
    if (x->stage == 0) {
      x->stage = 1;
      signal_group(x, SIGTERM);
      signal_group(x, SIGCONT);
      x->escalate_at = now_ns() + MS_NS(r->opts.kill_grace_ms);
    }
    return;
  }
  if (!x->stdin_upload || x->in_end) {
    conn_close(r, c); /* no upload was announced, or it already ended */
    return;
  }
  if (type == SK_IN_END)
    x->in_end = true;
  else if (x->in_w.fd >= 0)
    sk_buf_append(&x->in_buf, p, n);
  stdin_flush(r, x);
}

static void run_drained(struct runner *r, struct conn *c) { set_paused(r, c->op_data, false); }

static void run_abort(struct runner *r, struct conn *c) {
  struct run *x = c->op_data;
  x->conn = NULL;
  signal_group(x, SIGKILL);
  run_release(r, x); /* the reaper collects the process */
}

/* ---- start ---- */

/* The runner's environment with the request's NAME=value entries replacing or adding. */
static char **merge_env(char **base, char **extra) {
  size_t nb = 0, ne = 0;
  while (base && base[nb])
    nb++;
  while (extra && extra[ne])
    ne++;
  char **env = xcalloc(nb + ne + 1, sizeof *env);
  size_t n = 0;
  for (size_t i = 0; i < nb; i++) {
    size_t klen = strcspn(base[i], "=");
    bool overridden = false;
    for (size_t k = 0; k < ne && !overridden; k++)
      overridden = strncmp(extra[k], base[i], klen + 1) == 0;
    if (!overridden)
      env[n++] = base[i];
  }
  for (size_t k = 0; k < ne; k++)
    env[n++] = extra[k];
  return env;
}

static int make_pipe(int fds[2], bool parent_reads, sk_error_t *err) {
  if (pipe2(fds, O_CLOEXEC) < 0)
    return sk_error_errno(err, "pipe2");
  int parent = parent_reads ? fds[0] : fds[1];
  int fl = fcntl(parent, F_GETFL);
  if (fl < 0 || fcntl(parent, F_SETFL, fl | O_NONBLOCK) < 0)
    return sk_error_errno(err, "fcntl O_NONBLOCK");
  return 0;
}

static int run_spawn(struct runner *r, struct run *x, struct sk_req *req, sk_error_t *err) {
  int po[2] = {-1, -1}, pe[2] = {-1, -1}, pi[2] = {-1, -1};
  cleanup_free char **env = merge_env(r->env, req->env);
  int rc = -1;
  if (make_pipe(po, true, err) < 0 || make_pipe(pe, true, err) < 0 ||
      (x->stdin_upload && make_pipe(pi, false, err) < 0))
    goto out;
  struct spawn_opts o = {
      .argv = req->argv,
      .envp = env,
      .cwd = req->cwd,
      .fds = {pi[0], po[1], pe[1]},
      .search_path = true,
  };
  x->pid = spawn_process(&o, err);
  if (x->pid < 0)
    goto out;
  if (watch_add(r, &x->out.w, steal_fd(&po[0]), EPOLLIN, pipe_event, err) < 0 ||
      watch_add(r, &x->err.w, steal_fd(&pe[0]), EPOLLIN, pipe_event, err) < 0 ||
      (x->stdin_upload && watch_add(r, &x->in_w, steal_fd(&pi[1]), 0, stdin_event, err) < 0)) {
    kill(-x->pid, SIGKILL);
    goto out;
  }
  rc = 0;
out:
  for (int i = 0; i < 2; i++) {
    closep(&po[i]);
    closep(&pe[i]);
    closep(&pi[i]);
  }
  return rc;
}

void run_begin(struct runner *r, struct conn *c, struct sk_req *req) {
  sk_error_t err;
  struct run *x = xcalloc(1, sizeof *x);
  x->out = (struct run_pipe){.w.fd = -1, .run = x, .frame = SK_RES_OUT};
  x->err = (struct run_pipe){.w.fd = -1, .run = x, .frame = SK_RES_ERR};
  x->in_w.fd = -1;
  x->conn = c;
  x->stdin_upload = req->flags & SK_F_STDIN;
  x->start_ns = now_ns();
  x->deadline_ns = req->timeout_ms ? x->start_ns + MS_NS(req->timeout_ms) : 0;
  if (run_spawn(r, x, req, &err) < 0) {
    close_watch(r, &x->out.w);
    close_watch(r, &x->err.w);
    close_watch(r, &x->in_w);
    free(x);
    conn_send_error(r, c, &err);
    return;
  }
  x->next = r->runs;
  if (r->runs)
    r->runs->prev = x;
  r->runs = x;
  c->op = &run_ops;
  c->op_data = x;
  /* The pid, and the go-ahead for a stdin upload. */
  char meta[64];
  int n = snprintf(meta, sizeof meta, "{\"pid\":%d}", (int)x->pid);
  conn_send(r, c, SK_RES_META, meta, (size_t)n);
}

void run_signal_all(struct runner *r, int sig) {
  for (struct run *x = r->runs; x != NULL; x = x->next)
    signal_group(x, sig);
}

uint64_t run_next_deadline(struct runner *r) {
  uint64_t min = 0;
  for (struct run *x = r->runs; x != NULL; x = x->next) {
    uint64_t d = x->stage == 0 ? x->deadline_ns : x->stage == 1 ? x->escalate_at : 0;
    if (d != 0 && (min == 0 || d < min))
      min = d;
  }
  return min;
}

void run_timers(struct runner *r, uint64_t now) {
  for (struct run *x = r->runs; x != NULL; x = x->next) {
    if (x->stage == 0 && x->deadline_ns != 0 && now >= x->deadline_ns) {
      x->timed_out = true;
      x->stage = 1;
      signal_group(x, SIGTERM);
      signal_group(x, SIGCONT);
      x->escalate_at = now + MS_NS(r->opts.kill_grace_ms);
    } else if (x->stage == 1 && now >= x->escalate_at) {
      x->stage = 2;
      signal_group(x, SIGKILL);
    }
  }
}
