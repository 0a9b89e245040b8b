/* state ID: the runtime-spec state object on stdout. */
#include <stdio.h>
#include "cmdutil.h"
#include "commands.h"
#include "state.h"

int cmd_state(int argc, char **argv, const sk_global_opts_t *g, sk_error_t *err) {
  const char *id;
  if (cmd_getopt(argc, argv, "", (const struct option[]){{NULL, 0, NULL, 0}}, err) != -1 || cmd_one_id(argc, argv, "state ID", &id, err) < 0)
    return -1;
  sk_state_t st;
  if (state_load(g->root, id, &st, err) < 0)
    return -1;
  state_print_json(stdout, &st);
  fputc('\n', stdout);
  state_free(&st);
  return 0;
}
