/* kill [--all] ID [SIGNAL]: signals the init process (or, with --all, every process of the
 * container's cgroup). SIGNAL is a name (TERM, SIGTERM) or a number; default SIGTERM. */
#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "cmdutil.h"
#include "commands.h"
#include "container.h"
#include "resources.h"
#include "state.h"
#include "util.h"

#define KILL_USAGE "kill [--all] ID [SIGNAL]"

static int parse(int argc, char **argv, bool *all, const char **id, int *sig, sk_error_t *err) {
  static const struct option longopts[] = {{"all", no_argument, NULL, 'a'}, {NULL, 0, NULL, 0}};
  for (int c; (c = cmd_getopt(argc, argv, "a", longopts, err)) != -1;) {
    if (c != 'a')
      return -1;
    *all = true;
  }
  int left = argc - optind;
  if (left < 1 || left > 2)
    return sk_error_set(err, EINVAL, "kill: expected an id and an optional signal (usage: %s)", KILL_USAGE);
  *id = argv[optind];
  *sig = left == 2 ? signal_from_name(argv[optind + 1]) : SIGTERM;
  if (*sig < 0)
    return sk_error_set(err, EINVAL, "kill: unknown signal `%s`", argv[optind + 1]);
  return 0;
}

int cmd_kill(int argc, char **argv, const sk_global_opts_t *g, sk_error_t *err) {
  bool all = false;
  const char *id = NULL;
  int sig = SIGTERM;
  if (parse(argc, argv, &all, &id, &sig, err) < 0)
    return -1;
  sk_state_t st;
  if (state_load(g->root, id, &st, err) < 0)
    return -1;
  state_free(&st);
  if (st.status != SK_STATUS_CREATED && st.status != SK_STATUS_RUNNING)
    return sk_error_set(err, ESRCH, "kill `%s`: container is %s", id, state_status_name(st.status));
  if (all) {
    if (!st.has_cgroup || cgroup_kill_all(&st.cgroup, sig, err) < 0)
      return st.has_cgroup ? sk_error_wrap(err, "kill `%s`", id) : sk_error_set(err, ENOENT, "kill `%s`: no cgroup recorded", id);
    return 0;
  }
  cleanup_close int fd = open_container_pidfd(&st, err);
  if (fd < 0)
    return sk_error_wrap(err, "kill");
  if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0)
    return sk_error_errno(err, "kill `%s`: signal %d", id, sig);
  return 0;
}
