#include "sync.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int sync_pair(int fds[2], sk_error_t *err) {
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
    return sk_error_errno(err, "socketpair");
  return 0;
}

int sync_send(int fd, sk_sync_type_t type, int32_t value, sk_error_t *err) {
  sk_sync_msg_t m = {.type = type, .value = value};
  ssize_t n;
  do
    n = send(fd, &m, offsetof(sk_sync_msg_t, msg), MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return sk_error_errno(err, "sync: send");
  return 0;
}

int sync_send_error(int fd, const sk_error_t *e) {
  sk_sync_msg_t m = {.type = SK_SYNC_ERROR, .value = e->errno_};
  size_t len = strnlen(e->msg, sizeof m.msg - 1);
  memcpy(m.msg, e->msg, len);
  ssize_t n;
  do
    n = send(fd, &m, offsetof(sk_sync_msg_t, msg) + len + 1, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n < 0 ? -1 : 0;
}

int sync_expect(int fd, sk_sync_type_t type, const char *what, int32_t *value, sk_error_t *err) {
  sk_sync_msg_t m;
  ssize_t n;
  do
    n = recv(fd, &m, sizeof m, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return sk_error_errno(err, "%s: sync", what);
  if (n == 0)
    return sk_error_set(err, 0, "%s: the container process exited unexpectedly", what);
  if ((size_t)n < offsetof(sk_sync_msg_t, msg))
    return sk_error_set(err, EPROTO, "%s: short sync message", what);
  if (m.type == SK_SYNC_ERROR) {
    m.msg[sizeof m.msg - 1] = '\0';
    if ((size_t)n == offsetof(sk_sync_msg_t, msg))
      m.msg[0] = '\0';
    err->errno_ = m.value;
    snprintf(err->msg, sizeof err->msg, "%s", m.msg);
    return -1;
  }
  if (m.type != (int32_t)type)
    return sk_error_set(err, EPROTO, "%s: unexpected sync message %d", what, m.type);
  if (value != NULL)
    *value = m.value;
  return 0;
}

int sync_wait_exec(int fd, sk_error_t *err) {
  sk_sync_msg_t m;
  ssize_t n;
  do
    n = recv(fd, &m, sizeof m, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return sk_error_errno(err, "exec: sync");
  if (n == 0 || m.type != SK_SYNC_ERROR)
    return 0;
  m.msg[sizeof m.msg - 1] = '\0';
  if ((size_t)n == offsetof(sk_sync_msg_t, msg))
    m.msg[0] = '\0';
  err->errno_ = m.value;
  snprintf(err->msg, sizeof err->msg, "%s", m.msg);
  return -1;
}
