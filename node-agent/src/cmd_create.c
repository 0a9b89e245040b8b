/* create [--bundle DIR] [--pid-file FILE] ID: set the container up; its process waits on
 * exec.fifo until `start`. */
#include <errno.h>
#include <stdlib.h>
#include "cmdutil.h"
#include "commands.h"
#include "container.h"

#define CREATE_USAGE "create [--bundle DIR] [--pid-file FILE] ID"

/* Options create and run share; runc's that change nothing here are accepted, those we cannot
 * honour are refused. */
int parse_create_opts(int argc, char **argv, sk_create_opts_t *o, bool *detach, sk_error_t *err) {
  static const struct option longopts[] = {
      {"bundle", required_argument, NULL, 'b'},     {"pid-file", required_argument, NULL, 'p'},
      {"detach", no_argument, NULL, 'd'},           {"console-socket", required_argument, NULL, 'C'},
      {"no-pivot", no_argument, NULL, 'P'},         {"no-new-keyring", no_argument, NULL, 'K'},
      {"preserve-fds", required_argument, NULL, 'F'}, {NULL, 0, NULL, 0},
  };
  o->bundle = ".";
  for (;;) {
    int c = cmd_getopt(argc, argv, detach ? "b:d" : "b:", longopts, err);
    if (c == -1)
      break;
    switch (c) {
    case 'b':
      o->bundle = optarg;
      break;
    case 'p':
      o->pid_file = optarg;
      break;
    case 'd':
      if (detach == NULL)
        return sk_error_set(err, EINVAL, "%s: unknown option `--detach`", argv[0]);
      *detach = true;
      break;
    case 'C':
      return sk_error_set(err, EOPNOTSUPP, "%s: --console-socket is not supported (process.terminal must be false)", argv[0]);
    case 'P':
      return sk_error_set(err, EOPNOTSUPP, "%s: --no-pivot is not supported (the root is always pivoted)", argv[0]);
    case 'K':
      break; /* we never create a session keyring */
    case 'F':
      if (atoi(optarg) != 0)
        return sk_error_set(err, EOPNOTSUPP, "%s: --preserve-fds is not supported", argv[0]);
      break;
    default:
      return -1;
    }
  }
  return 0;
}

int cmd_create(int argc, char **argv, const sk_global_opts_t *g, sk_error_t *err) {
  sk_create_opts_t o = {0};
  if (parse_create_opts(argc, argv, &o, NULL, err) < 0 || cmd_one_id(argc, argv, CREATE_USAGE, &o.id, err) < 0)
    return -1;
  sk_container_t c;
  if (container_create(g, &o, &c, err) < 0)
    return sk_error_wrap(err, "create `%s`", o.id);
  container_close(&c);
  return 0;
}
