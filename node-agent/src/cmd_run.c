/* run [--bundle DIR] [--pid-file FILE] [--detach] ID: create and start in one go. In the
 * foreground it waits, forwards signals, removes the container afterwards (as runc does) and
 * exits with the process's status. */
#include <errno.h>
#include <signal.h>
#include "cmdutil.h"
#include "commands.h"
#include "container.h"

#define RUN_USAGE "run [--bundle DIR] [--pid-file FILE] [--detach] ID"

int parse_create_opts(int argc, char **argv, sk_create_opts_t *o, bool *detach, sk_error_t *err);

int cmd_run(int argc, char **argv, const sk_global_opts_t *g, sk_error_t *err) {
  sk_create_opts_t o = {.start_now = true};
  bool detach = false;
  if (parse_create_opts(argc, argv, &o, &detach, err) < 0 || cmd_one_id(argc, argv, RUN_USAGE, &o.id, err) < 0)
    return -1;
  sk_container_t c;
  if (container_create(g, &o, &c, err) < 0)
    return sk_error_wrap(err, "run `%s`", o.id);
  if (detach) {
    container_close(&c);
    return 0;
  }
  int status = 0;
  int r = wait_forwarding_signals(c.state.pid, c.pidfd, &status, err);
  c.state.status = SK_STATUS_STOPPED;
  sk_error_t derr = {0};
  int d = container_destroy(&c.state, r < 0 ? &derr : err);
  container_close(&c);
  if (r < 0 || d < 0)
    return sk_error_wrap(err, "run `%s`", o.id);
  return status;
}
