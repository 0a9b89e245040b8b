/* delete [--force] ID: removes a stopped (or created) container: every process of its cgroup is
 * killed, the cgroup and the state directory removed. --force also takes running ones, and an
 * unknown id is then not an error. */
#include <errno.h>
#include <unistd.h>
#include "cmdutil.h"
#include "commands.h"
#include "container.h"
#include "state.h"
#include "util.h"

int cmd_delete(int argc, char **argv, const sk_global_opts_t *g, sk_error_t *err) {
  static const struct option longopts[] = {{"force", no_argument, NULL, 'f'}, {NULL, 0, NULL, 0}};
  bool force = false;
  for (int c; (c = cmd_getopt(argc, argv, "f", longopts, err)) != -1;) {
    if (c != 'f')
      return -1;
    force = true;
  }
  const char *id;
  if (cmd_one_id(argc, argv, "delete [--force] ID", &id, err) < 0)
    return -1;
  sk_state_t st;
  if (state_load(g->root, id, &st, err) < 0)
    return force && err->errno_ == ENOENT ? 0 : -1;
  cleanup_close int lock = state_lock(&st, err);
  if (lock < 0) {
    state_free(&st);
    return force && err->errno_ == ENOENT ? 0 : -1;
  }
  state_refresh(&st);
  if (st.status == SK_STATUS_RUNNING && !force) {
    state_free(&st);
    return sk_error_set(err, EBUSY, "delete `%s`: cannot delete a running container (use --force)", id);
  }
  int r = container_destroy(&st, err);
  state_free(&st);
  return r;
}
