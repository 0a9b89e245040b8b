/* start ID: lets the created container's process exec (one byte down exec.fifo). */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include "cmdutil.h"
#include "commands.h"
#include "state.h"
#include "util.h"

int cmd_start(int argc, char **argv, const sk_global_opts_t *g, sk_error_t *err) {
  const char *id;
  if (cmd_getopt(argc, argv, "", (const struct option[]){{NULL, 0, NULL, 0}}, err) != -1 || cmd_one_id(argc, argv, "start ID", &id, err) < 0)
    return -1;
  sk_state_t st;
  if (state_load(g->root, id, &st, err) < 0)
    return -1;
  cleanup_close int lock = state_lock(&st, err);
  state_free(&st);
  if (lock < 0)
    return -1;
  state_refresh(&st);
  if (st.status != SK_STATUS_CREATED)
    return sk_error_set(err, EINVAL, "start `%s`: cannot start a container that is %s", id, state_status_name(st.status));
  cleanup_free char *fifo = xasprintf("%s/exec.fifo", st.dir);
  /* Non-blocking: no reader means the process is gone, not "wait forever". */
  cleanup_close int fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return errno == ENXIO ? sk_error_set(err, ESRCH, "start `%s`: the container process is gone", id) : sk_error_errno(err, "start `%s`: open exec.fifo", id);
  if (write(fd, "0", 1) != 1)
    return sk_error_errno(err, "start `%s`: write exec.fifo", id);
  if (unlink(fifo) < 0)
    return sk_error_errno(err, "start `%s`: remove exec.fifo", id);
  return 0;
}
