/* Parent <-> container-process messages over a SOCK_SEQPACKET socketpair (after crun): the
 * parent says when uid/gid maps and the cgroup are in place; the child says "ready" or sends its
 * error (errno + message), so the caller sees the real reason. */
#ifndef SK_SYNC_H
#define SK_SYNC_H

#include <stdint.h>
#include "error.h"

typedef enum {
  SK_SYNC_MAPS_DONE = 1, /* parent: uid/gid maps written */
  SK_SYNC_CGROUP_DONE,   /* parent: cgroup created and joined, limits applied */
  SK_SYNC_READY,         /* child: set up, waiting to start */
  SK_SYNC_ERROR,         /* child: failed; errno_ + msg */
  SK_SYNC_PID,           /* child: a pid (exec) */
} sk_sync_type_t;

typedef struct sk_sync_msg {
  int32_t type;
  int32_t value;   /* errno for SK_SYNC_ERROR, pid for SK_SYNC_PID */
  char msg[1024];
} sk_sync_msg_t;

/* Creates the socketpair (close-on-exec): fds[0] for the parent, fds[1] for the child. */
int sync_pair(int fds[2], sk_error_t *err);
int sync_send(int fd, sk_sync_type_t type, int32_t value, sk_error_t *err);
/* Sends the child's error to the parent; < 0 if nobody is listening any more. */
int sync_send_error(int fd, const sk_error_t *e);
/* Receives one message of the expected type; an SK_SYNC_ERROR from the peer becomes *err, a
 * closed socket becomes "<what>: peer exited". */
int sync_expect(int fd, sk_sync_type_t type, const char *what, int32_t *value, sk_error_t *err);
/* After SK_SYNC_READY: 0 once the peer's end closes (execve succeeded: the socket is close-on-exec),
 * -1 with the peer's error if it sent one. */
int sync_wait_exec(int fd, sk_error_t *err);

#endif
