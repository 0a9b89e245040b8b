/* Small helpers for the cmd_*.c files: option parsing with errors in the house convention, and
 * signal names. */
#ifndef SK_CMDUTIL_H
#define SK_CMDUTIL_H

#include <getopt.h>
#include "error.h"

#define SK_OPT_ERROR (-2)

/* getopt_long in '+' mode (options stop at the first operand, as runc's commands do), with our
 * own error messages. Returns the option, -1 at the end, or SK_OPT_ERROR with *err set. Reset
 * with optind = 0 before the first call (main does). */
int cmd_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts, sk_error_t *err);
/* Exactly one operand left (the container id); sets *id. usage is shown in the error. */
int cmd_one_id(int argc, char **argv, const char *usage, const char **id, sk_error_t *err);
/* "KILL", "SIGKILL", "9" -> 9; -1 if unknown. */
int signal_from_name(const char *name);

#endif
