/* The runner's shared state and the interfaces between its files:
 *   server.c  event loop, listening socket, connections, request dispatch, info
 *   reaper.c  signals (signalfd), reaping every child, forwarding, shutdown
 *   spawn.c   fork+exec with the exec error reported back
 *   shell.c   the PTY and the persistent shell, end-of-command markers
 *   exec.c    the exec and signal operations on that shell
 *   run.c     one-shot processes outside the shell
 *   fs.c      file operations resolved inside the sandbox root */
#ifndef SK_RUNNER_H
#define SK_RUNNER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "error.h"
#include "proto.h"
#include "util.h"

#define SK_RUNNER_VERSION "0.1.0"

struct runner;
struct conn;

struct sk_opts {
  const char *socket_path;
  const char *shell; /* "auto" or a path */
  const char *fs_root;
  uint64_t output_cap;     /* bytes of output kept per exec/run */
  uint64_t kill_grace_ms;  /* SIGINT → SIGKILL on an exec timeout */
  uint64_t stop_grace_ms;  /* SIGTERM → SIGKILL on shutdown */
  int ready_fd;            /* -1, or an fd to write "ready\n" to once serving */
};

/* One fd in the epoll set. Deleted watches get fd -1, so events already fetched for them in the
 * same batch are skipped; the memory lives until the end of the batch (see runner_defer_free). */
struct sk_watch {
  int fd;
  uint32_t events;
  void (*fn)(struct runner *r, struct sk_watch *w, uint32_t events);
};

/* An operation that spans several frames (exec, run, fs read/write/list) hangs off its
 * connection through these hooks. */
struct op_ops {
  const char *name;
  /* a DATA, END or CANCEL frame arrived while the operation runs */
  void (*frame)(struct runner *r, struct conn *c, uint8_t type, const uint8_t *p, size_t n);
  /* the connection's output drained: produce more (read, list, paused exec/run output) */
  void (*drained)(struct runner *r, struct conn *c);
  /* the connection is going away: stop, release what the operation holds */
  void (*abort)(struct runner *r, struct conn *c);
};

struct conn {
  struct sk_watch w;
  struct sk_buf in, out;
  const struct op_ops *op;
  void *op_data;
  bool skip_stream;  /* drop DATA frames until END: the upload's operation already ended */
  bool input_paused; /* an upload waits for its consumer */
  bool closing;      /* closed; freed at the end of the batch */
  bool processing;   /* inside conn_process_input (it re-enters via conn_op_done) */
  uint64_t id;
  struct conn *prev, *next;
};

/* Output above this waits: producers pause until the client reads. */
#define SK_OUT_HIGH (1u << 20)
#define SK_CHUNK (64u << 10)

enum shell_state {
  SHELL_DOWN,     /* not started, or died and not restarted yet */
  SHELL_STARTING, /* spawned; the setup marker has not come back yet */
  SHELL_IDLE,
  SHELL_BUSY,     /* an exec runs */
  SHELL_FAILED,   /* the last start failed; the next exec retries */
};

struct shell {
  enum shell_state state;
  pid_t pid;
  int master;
  struct sk_watch master_w;
  bool master_paused; /* the exec's client is slow: stop reading the PTY */
  int cmdfd;          /* memfd (or private file) holding the command to source */
  char cmd_path[96];  /* how the shell opens it: /proc/<runner pid>/fd/<cmdfd> */
  bool is_bash;
  char marker[1 + 32 + 1]; /* "\x1e" + nonce hex, NUL-terminated */
  struct sk_buf scan;      /* bytes held back: they may start a marker */
  uint64_t start_deadline;
  uint64_t settle_deadline; /* after the shell died mid-exec: drain the PTY until then */
  uint64_t started_ns;
  bool start_timed_out;
  int exit_status;          /* of the shell that died mid-exec */
  bool restarted;           /* a previous shell died; reported once by the next exec */
  char fail_msg[512];
};

struct exec;
struct run;

struct runner {
  struct sk_opts opts;
  int epfd, sigfd, listenfd, rootfd;
  int reserve_fd; /* spent when out of fds, see accept_shed */
  struct sk_watch listen_w, sig_w;
  struct conn *conns;
  size_t nconns;
  uint64_t next_conn_id;
  struct shell shell;
  struct exec *exec; /* the exec owning the shell (running or waiting for it to start) */
  struct exec *exec_waiting; /* one exec waiting for an abandoned exec to be interrupted */
  struct run *runs;
  char **env;    /* environment for the shell and runs */
  uint64_t start_ns;
  uint64_t exec_count;
  bool pid1;
  bool shutting_down;
  uint64_t shutdown_deadline;
  bool shutdown_killed;
  bool exit_now;
  /* frees deferred to the end of the epoll batch */
  struct deferred {
    void (*fn)(void *);
    void *p;
  } *deferred;
  size_t ndeferred, cap_deferred;
};

/* server.c */
int server_listen(struct runner *r, sk_error_t *err);
int server_run(struct runner *r, sk_error_t *err);
int watch_add(struct runner *r, struct sk_watch *w, int fd, uint32_t events,
              void (*fn)(struct runner *, struct sk_watch *, uint32_t), sk_error_t *err);
void watch_set(struct runner *r, struct sk_watch *w, uint32_t events);
void watch_del(struct runner *r, struct sk_watch *w);
void runner_defer_free(struct runner *r, void (*fn)(void *), void *p);
void conn_send(struct runner *r, struct conn *c, uint8_t type, const void *p, size_t n);
void conn_send_buf(struct runner *r, struct conn *c, uint8_t type, const struct sk_buf *b);
void conn_send_error(struct runner *r, struct conn *c, const sk_error_t *err);
size_t conn_pending(const struct conn *c);
/* Sends what is queued; for producers that write frames straight into c->out. */
void conn_flush(struct runner *r, struct conn *c);
/* Ends the connection's current operation (after its final frame was queued). */
void conn_op_done(struct runner *r, struct conn *c);
void conn_set_input_paused(struct runner *r, struct conn *c, bool paused);
void conn_close(struct runner *r, struct conn *c);
/* True if the client has hung up (the connection is then closed): a hang-up may be pending
 * behind events we have not processed yet. */
bool conn_hung_up(struct runner *r, struct conn *c);

/* reaper.c */
int reaper_setup(struct runner *r, sk_error_t *err);
/* In a child after fork: default signal dispositions, empty mask. */
void reaper_child_reset(void);
void reaper_reap(struct runner *r);
void runner_shutdown_begin(struct runner *r, const char *why);
uint64_t reaper_next_deadline(struct runner *r);
void reaper_timers(struct runner *r, uint64_t now);
/* Signal names ("SIGINT", "INT", "2") to numbers; -1 if unknown. */
int signal_parse(const char *s);
const char *signal_name(int sig);

/* spawn.c */
struct spawn_opts {
  char *const *argv;
  char *const *envp;
  const char *cwd;  /* NULL: inherit */
  int fds[3];       /* become 0, 1, 2 in the child; -1 = /dev/null */
  const char *tty;  /* open this terminal as stdio and controlling tty (overrides fds) */
  bool search_path; /* look argv[0] up in envp's PATH */
};
/* Forks and execs; returns the child's pid, or < 0 with the exec failure (errno as in the
 * child, e.g. ENOENT for a missing program) when it could not start. */
pid_t spawn_process(const struct spawn_opts *o, sk_error_t *err);

/* shell.c */
int shell_init(struct runner *r, sk_error_t *err);
int shell_start(struct runner *r, sk_error_t *err);
/* Writes the command and tells the shell to source it; the shell must be idle. */
int shell_send(struct runner *r, const uint8_t *cmd, size_t len, sk_error_t *err);
/* Sends sig to the shell's foreground job (its process group, or the shell itself when the
 * shell runs a builtin); returns the pid or -pgid it went to. */
int shell_signal_fg(struct runner *r, int sig, pid_t *target, sk_error_t *err);
bool shell_fg_is_shell(struct runner *r);
void shell_kill(struct runner *r);
void shell_on_exit(struct runner *r, int status);
void shell_pause_output(struct runner *r, bool paused);
uint64_t shell_next_deadline(struct runner *r);
void shell_timers(struct runner *r, uint64_t now);
const char *shell_state_name(enum shell_state s);

/* exec.c */
void exec_begin(struct runner *r, struct conn *c, struct sk_req *req);
void signal_request(struct runner *r, struct conn *c, struct sk_req *req);
/* Called by shell.c: the shell became ready (run the waiting exec) or could not start. */
void exec_shell_ready(struct runner *r);
void exec_shell_failed(struct runner *r, const char *why);
/* Called by shell.c while an exec runs: output bytes, the end marker, the shell's death. */
void exec_output(struct runner *r, const uint8_t *p, size_t n);
void exec_complete(struct runner *r, int status, const uint8_t *cwd, size_t cwd_len);
void exec_shell_died(struct runner *r, int status);
uint64_t exec_next_deadline(struct runner *r);
void exec_timers(struct runner *r, uint64_t now);

/* run.c */
void run_begin(struct runner *r, struct conn *c, struct sk_req *req);
/* A child exited: true if it was one of ours. */
bool run_on_exit(struct runner *r, pid_t pid, int status);
void run_signal_all(struct runner *r, int sig);
uint64_t run_next_deadline(struct runner *r);
void run_timers(struct runner *r, uint64_t now);

/* fs.c */
int fs_init(struct runner *r, sk_error_t *err);
void fs_request(struct runner *r, struct conn *c, struct sk_req *req);

/* An exit status as one number: the exit code, or 128 + the signal. */
static inline int status_code(int status) {
  if (status < 0)
    return -1;
  if ((status & 0x7f) == 0)
    return (status >> 8) & 0xff;
  return 128 + (status & 0x7f);
}

#endif
