/* state ID: the runtime-spec state object on stdout. */
#include <stdio.h>
#include "cmdutil.h"
#include "commands.h"
#include "resources.h"
#include "state.h"

int cmd_state(int argc, char **argv, const sk_global_opts_t *g, sk_error_t *err) {
  const char *id;
  if (cmd_getopt(argc, argv, "", (const struct option[]){{NULL, 0, NULL, 0}}, err) != -1 || cmd_one_id(argc, argv, "state ID", &id, err) < 0)
    return -1;
  sk_state_t st;
  if (state_load(g->root, id, &st, err) < 0)
    return -1;
  /* The OOM count tells a caller why a stopped container's init died (its exit status is lost:
   * init is not our child). The cgroup stays until `delete`, so the count outlives the process. */
  long long oom_kills = -1;
  sk_error_t ignored;
  if (st.has_cgroup && cgroup_oom_kills(&st.cgroup, &oom_kills, &ignored) < 0)
    oom_kills = -1;
  state_print_json(stdout, &st, oom_kills);
  fputc('\n', stdout);
  state_free(&st);
  return 0;
}
