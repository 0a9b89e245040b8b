/* The parent side of create/run: parse and compile everything, clone the container process,
 * put it in its cgroup, wait until it is set up, record the state. */
#ifndef SK_CONTAINER_H
#define SK_CONTAINER_H

#include <stdbool.h>
#include <sys/types.h>
#include "commands.h"
#include "state.h"

typedef struct sk_create_opts {
  const char *id;
  const char *bundle;   /* as given; made absolute */
  const char *pid_file; /* NULL = none */
  bool start_now;       /* run: no exec.fifo; the process execs as soon as it is set up */
} sk_create_opts_t;

typedef struct sk_container {
  sk_state_t state;
  int pidfd;            /* of the container process, -1 if none */
} sk_container_t;

int container_create(const sk_global_opts_t *g, const sk_create_opts_t *o, sk_container_t *c, sk_error_t *err);
void container_close(sk_container_t *c);

/* Kills everything in the container's cgroup, removes the cgroup and the state directory. */
int container_destroy(sk_state_t *st, sk_error_t *err);

/* Waits for pid (a child of ours) while forwarding SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1,
 * SIGUSR2 and SIGWINCH to it; returns its exit status as a shell would (128+signal). */
int wait_forwarding_signals(pid_t pid, int pidfd, int *status, sk_error_t *err);

/* pidfd of a recorded process, after checking it is still the one we started (start time). */
int open_container_pidfd(const sk_state_t *st, sk_error_t *err);

/* clone3 with CLONE_PIDFD (falling back to clone). Returns 0 in the child like fork. */
pid_t clone_pidfd(unsigned long flags, int *pidfd, sk_error_t *err);

#endif
