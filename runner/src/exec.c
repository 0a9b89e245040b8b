/* exec and signal: commands through the persistent shell (shell.c holds the PTY).
 *
 * One exec at a time — the shell has one terminal; a second exec while one runs is refused
 * with BUSY, never interleaved. The one exception: an exec whose client hung up is being
 * interrupted and nobody waits for it, so one new exec may wait for it to end. On timeout (or a CANCEL, or the client hanging up)
 * the foreground job gets SIGINT, then SIGKILL after the kill grace; if the shell itself is
 * what runs (a builtin loop that traps SIGINT) the shell is killed and replaced. The result's
 * exitCode is the shell's $? (130 after SIGINT, 137 after SIGKILL); timedOut says why. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "json.h"
#include "runner.h"

/* Between two jobs the shell itself is in the foreground; a job it forks right then misses the
 * SIGINT, so until the kill grace is over the foreground is looked at every RECHECK_MS. */
#define RECHECK_MS 20

struct exec {
  struct conn *conn; /* NULL once the client went away */
  uint8_t *command;
  size_t command_len;
  uint64_t start_ns, deadline_ns, escalate_at;
  uint64_t recheck_at; /* the SIGINT went to the shell: a job it was just starting gets one too */
  int stage; /* 0 running, 1 SIGINT sent, 2 SIGKILL sent to the job, 3 shell killed */
  bool sent, timed_out, cancelled, truncated, shell_restarted;
  uint64_t out_bytes, dropped_bytes;
};

static void exec_frame(struct runner *r, struct conn *c, uint8_t type, const uint8_t *p, size_t n);
static void exec_drained(struct runner *r, struct conn *c);
static void exec_abort(struct runner *r, struct conn *c);
static const struct op_ops exec_ops = {"exec", exec_frame, exec_drained, exec_abort};

static void exec_free(struct exec *e) {
  free(e->command);
  free(e);
}

static void exec_send(struct runner *r, struct exec *e);
static void exec_fail(struct runner *r, struct exec *e, sk_error_t *err);

/* Hands the shell to the exec that waited behind an abandoned one. */
static void exec_promote(struct runner *r) {
  struct exec *e = r->exec_waiting;
  if (e == NULL || r->exec != NULL)
    return;
  r->exec_waiting = NULL;
  r->exec = e;
  sk_error_t err;
  if (r->shell.state == SHELL_IDLE)
    exec_send(r, e);
  else if (r->shell.state == SHELL_FAILED && shell_start(r, &err) < 0)
    exec_fail(r, e, &err);
  /* DOWN or STARTING: exec_shell_ready sends it */
}

/* Detaches the exec from the runner and its connection; the caller has sent the final frame. */
static void exec_end(struct runner *r, struct exec *e) {
  struct conn *c = e->conn;
  if (r->exec == e) {
    r->exec = NULL;
    shell_pause_output(r, false);
  } else if (r->exec_waiting == e) {
    r->exec_waiting = NULL;
  }
  exec_free(e);
  if (c != NULL)
    conn_op_done(r, c);
  exec_promote(r);
}

static void exec_fail(struct runner *r, struct exec *e, sk_error_t *err) {
  if (e->conn != NULL)
    conn_send_error(r, e->conn, err);
  exec_end(r, e);
}

static void exec_send(struct runner *r, struct exec *e) {
  sk_error_t err;
  e->shell_restarted = r->shell.restarted;
  if (shell_send(r, e->command, e->command_len, &err) < 0) {
    exec_fail(r, e, &err);
    return;
  }
  r->shell.restarted = false;
  e->sent = true;
  /* The command text can be large; the shell has it now. */
  free(e->command);
  e->command = NULL;
}

void exec_begin(struct runner *r, struct conn *c, struct sk_req *req) {
  sk_error_t err;
  /* Its client may have hung up a moment ago, unseen yet: then it is abandoned. */
  if (r->exec != NULL && r->exec->conn != NULL)
    conn_hung_up(r, r->exec->conn);
  bool behind_abandoned = r->exec != NULL && r->exec->conn == NULL && r->exec_waiting == NULL;
  if (r->exec != NULL && !behind_abandoned) {
    sk_error_code(&err, "BUSY", "another exec is running (for %llu ms); execs are not queued: wait for it, or cancel it",
                  (unsigned long long)((now_ns() - r->exec->start_ns) / 1000000));
    conn_send_error(r, c, &err);
    return;
  }
  struct exec *e = xcalloc(1, sizeof *e);
  e->conn = c;
  e->command = steal_pointer(&req->command);
  e->command_len = req->command_len;
  e->start_ns = now_ns();
  e->deadline_ns = req->timeout_ms ? e->start_ns + MS_NS(req->timeout_ms) : 0;
  r->exec_count++;
  c->op = &exec_ops;
  c->op_data = e;
  if (behind_abandoned) {
    r->exec_waiting = e;
    return;
  }
  r->exec = e;
  switch (r->shell.state) {
  case SHELL_IDLE:
    exec_send(r, e);
    break;
  case SHELL_STARTING:
    break; /* exec_shell_ready sends it */
  default:
    if (shell_start(r, &err) < 0)
      exec_fail(r, e, &err);
    break;
  }
}

void exec_shell_ready(struct runner *r) {
  if (r->exec != NULL && !r->exec->sent)
    exec_send(r, r->exec);
}

void exec_shell_failed(struct runner *r, const char *why) {
  if (r->exec == NULL || r->exec->sent)
    return;
  sk_error_t err;
  sk_error_code(&err, "SHELL_UNAVAILABLE", "%s", why);
  exec_fail(r, r->exec, &err);
}

void exec_output(struct runner *r, const uint8_t *p, size_t n) {
  struct exec *e = r->exec;
  if (e == NULL || e->conn == NULL)
    return;
  uint64_t room = r->opts.output_cap > e->out_bytes ? r->opts.output_cap - e->out_bytes : 0;
  size_t keep = n < room ? n : (size_t)room;
  if (keep < n) {
    e->truncated = true;
    e->dropped_bytes += n - keep;
  }
  if (keep == 0)
    return;
  e->out_bytes += keep;
  conn_send(r, e->conn, SK_RES_OUT, p, keep);
  /* A slow reader holds the command back (it blocks writing to the terminal) rather than
   * making us buffer without bound. */
  if (e->conn != NULL && !e->conn->closing && conn_pending(e->conn) > SK_OUT_HIGH)
    shell_pause_output(r, true);
}

static void send_result(struct runner *r, struct exec *e, int code, const uint8_t *cwd, size_t cwd_len, bool exited) {
  if (e->conn == NULL)
    return;
  struct sk_buf b = {0};
  struct sk_json j;
  sk_json_init(&j, &b);
  sk_json_obj_begin(&j);
  sk_json_key(&j, "exitCode");
  sk_json_i64(&j, code);
  sk_json_key(&j, "cwd");
  if (cwd != NULL)
    sk_json_bytes(&j, cwd, cwd_len);
  else
    sk_json_null(&j);
  sk_json_key(&j, "durationMs");
  sk_json_ms(&j, (double)(now_ns() - e->start_ns) / 1e6);
  sk_json_key(&j, "timedOut");
  sk_json_bool(&j, e->timed_out);
  sk_json_key(&j, "cancelled");
  sk_json_bool(&j, e->cancelled);
  sk_json_key(&j, "truncated");
  sk_json_bool(&j, e->truncated);
  sk_json_key(&j, "outputBytes");
  sk_json_u64(&j, e->out_bytes + e->dropped_bytes);
  sk_json_key(&j, "shellRestarted");
  sk_json_bool(&j, e->shell_restarted);
  sk_json_key(&j, "shellExited");
  sk_json_bool(&j, exited);
  sk_json_obj_end(&j);
  conn_send_buf(r, e->conn, SK_RES_RESULT, &b);
  sk_buf_free(&b);
}

void exec_complete(struct runner *r, int status, const uint8_t *cwd, size_t cwd_len) {
  struct exec *e = r->exec;
  if (e == NULL)
    return;
  send_result(r, e, status, cwd, cwd_len, false);
  exec_end(r, e);
}

void exec_shell_died(struct runner *r, int status) {
  struct exec *e = r->exec;
  if (e == NULL)
    return;
  send_result(r, e, status_code(status), NULL, 0, true);
  exec_end(r, e);
}

/* ---- interruption: timeout, cancel, hang-up ---- */

static void escalate(struct runner *r, struct exec *e, uint64_t now) {
  pid_t target;
  sk_error_t err;
  switch (e->stage) {
  case 0:
    e->stage = 1;
    if (shell_signal_fg(r, SIGINT, &target, &err) < 0 && err.errno_ != ESRCH)
      sk_log("warn", "exec interrupt: %s", err.msg);
    else if (target > 0)
      e->recheck_at = now + MS_NS(RECHECK_MS);
    break;
  case 1:
    if (!shell_fg_is_shell(r)) {
      /* The job ignored SIGINT. Interrupt the shell first, so it drops the rest of the
       * command rather than start its next job once this one is gone, then kill the job. */
      e->stage = 2;
      if (r->shell.pid > 0)
        kill(r->shell.pid, SIGINT);
      if (shell_signal_fg(r, SIGKILL, &target, &err) < 0 && err.errno_ != ESRCH)
        sk_log("warn", "exec kill: %s", err.msg);
      break;
    }
    /* The shell itself ignores SIGINT (trap "" INT in a builtin loop). */
    __attribute__((fallthrough));
  default:
    e->stage = 3;
    sk_log("warn", "exec did not stop after SIGINT and SIGKILL of its job: replacing the shell");
    shell_kill(r);
    e->escalate_at = 0;
    return;
  }
  e->escalate_at = now + MS_NS(r->opts.kill_grace_ms);
}

static void exec_interrupt(struct runner *r, struct exec *e) {
  if (e->stage == 0 && e->sent)
    escalate(r, e, now_ns());
}

uint64_t exec_next_deadline(struct runner *r) {
  struct exec *e = r->exec;
  uint64_t d = e == NULL ? 0 : e->stage == 0 ? e->deadline_ns : e->escalate_at;
  if (e != NULL && e->recheck_at != 0 && (d == 0 || e->recheck_at < d))
    d = e->recheck_at;
  struct exec *w = r->exec_waiting;
  if (w != NULL && w->deadline_ns != 0 && (d == 0 || w->deadline_ns < d))
    d = w->deadline_ns;
  return d;
}

void exec_timers(struct runner *r, uint64_t now) {
  struct exec *w = r->exec_waiting;
  if (w != NULL && w->deadline_ns != 0 && now >= w->deadline_ns) {
    sk_error_t err;
    sk_error_code(&err, "BUSY", "the previous exec, abandoned by its client, was still being interrupted at the timeout");
    exec_fail(r, w, &err);
  }
  struct exec *e = r->exec;
  if (e == NULL)
    return;
  if (!e->sent) {
    if (e->deadline_ns != 0 && now >= e->deadline_ns) {
      sk_error_t err;
      sk_error_code(&err, "SHELL_UNAVAILABLE", "the shell did not become ready within the exec's timeout");
      exec_fail(r, e, &err);
    }
    return;
  }
  if (e->recheck_at != 0 && now >= e->recheck_at) {
    pid_t target;
    sk_error_t err;
    if (e->stage != 1) {
      e->recheck_at = 0;
    } else if (shell_fg_is_shell(r)) {
      e->recheck_at = now + MS_NS(RECHECK_MS); /* still between jobs, or a builtin */
    } else {
      e->recheck_at = 0;
      if (shell_signal_fg(r, SIGINT, &target, &err) < 0 && err.errno_ != ESRCH)
        sk_log("warn", "exec interrupt: %s", err.msg);
    }
  }
  if (e->stage == 0 && e->deadline_ns != 0 && now >= e->deadline_ns) {
    e->timed_out = true;
    escalate(r, e, now);
  } else if (e->stage > 0 && e->escalate_at != 0 && now >= e->escalate_at) {
    escalate(r, e, now);
  }
}

static void exec_frame(struct runner *r, struct conn *c, uint8_t type, const uint8_t *p, size_t n) {
  (void)p;
  (void)n;
  struct exec *e = c->op_data;
  if (type != SK_IN_CANCEL) {
    conn_close(r, c); /* an exec takes no upload */
    return;
  }
  if (!e->sent) {
    sk_error_t err;
    sk_error_code(&err, "CANCELLED", "exec cancelled before the shell ran it");
    exec_fail(r, e, &err);
    return;
  }
  if (!e->timed_out)
    e->cancelled = true;
  exec_interrupt(r, e);
}

static void exec_drained(struct runner *r, struct conn *c) {
  (void)c;
  shell_pause_output(r, false);
}

/* The client hung up: nobody waits for the output, so stop the command as on a cancel. A
 * command still waiting for the shell to start is dropped. */
static void exec_abort(struct runner *r, struct conn *c) {
  struct exec *e = c->op_data;
  e->conn = NULL;
  if (!e->sent) {
    exec_end(r, e);
    return;
  }
  shell_pause_output(r, false);
  e->cancelled = !e->timed_out;
  exec_interrupt(r, e);
}

/* ---- signal ---- */

void signal_request(struct runner *r, struct conn *c, struct sk_req *req) {
  sk_error_t err;
  int sig = signal_parse(req->signal);
  if (sig < 0) {
    sk_error_code(&err, "BAD_REQUEST", "signal: unknown signal `%s`", req->signal);
    conn_send_error(r, c, &err);
    return;
  }
  pid_t target;
  if (shell_signal_fg(r, sig, &target, &err) < 0) {
    conn_send_error(r, c, &err);
    return;
  }
  struct sk_buf b = {0};
  struct sk_json j;
  sk_json_init(&j, &b);
  sk_json_obj_begin(&j);
  sk_json_key(&j, "signal");
  sk_json_str(&j, signal_name(sig));
  sk_json_key(&j, "target");
  sk_json_str(&j, target < 0 ? "job" : "shell");
  sk_json_key(&j, "pid");
  sk_json_i64(&j, target < 0 ? -target : target);
  sk_json_key(&j, "execRunning");
  sk_json_bool(&j, r->exec != NULL);
  sk_json_obj_end(&j);
  conn_send_buf(r, c, SK_RES_RESULT, &b);
  sk_buf_free(&b);
}
