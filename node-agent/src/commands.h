/* The CLI is a command table (after crun): one file per verb, cmd_<verb>.c. Each command gets
 * its own argv (argv[0] is the verb), the global options, and reports failure through *err
 * (returning < 0); only main prints errors and decides the exit status. A command that succeeds
 * returns its exit status (0, or the container's exit code for a foreground `run`). */
#ifndef SK_COMMANDS_H
#define SK_COMMANDS_H

#include <stdbool.h>
#include "error.h"

typedef enum { SK_LOG_TEXT = 0, SK_LOG_JSON = 1 } sk_log_format_t;

/* Options that come before the verb: `node-agent [--root DIR] [--log FILE] [--log-format F] VERB …`. */
typedef struct sk_global_opts {
  const char *root;           /* state root, one directory per container id; default SK_DEFAULT_ROOT */
  sk_log_format_t log_format; /* how main prints the error */
  const char *log_path;       /* --log FILE: errors also appended there; NULL = stderr only */
  bool debug;                 /* --debug: accepted for runc compatibility */
} sk_global_opts_t;

#define SK_DEFAULT_ROOT "/run/sandkasten"

typedef int (*sk_command_fn)(int argc, char **argv, const sk_global_opts_t *g, sk_error_t *err);

int cmd_create(int argc, char **argv, const sk_global_opts_t *g, sk_error_t *err);
int cmd_start(int argc, char **argv, const sk_global_opts_t *g, sk_error_t *err);
int cmd_run(int argc, char **argv, const sk_global_opts_t *g, sk_error_t *err);
int cmd_exec(int argc, char **argv, const sk_global_opts_t *g, sk_error_t *err);
int cmd_state(int argc, char **argv, const sk_global_opts_t *g, sk_error_t *err);
int cmd_kill(int argc, char **argv, const sk_global_opts_t *g, sk_error_t *err);
int cmd_delete(int argc, char **argv, const sk_global_opts_t *g, sk_error_t *err);
int cmd_list(int argc, char **argv, const sk_global_opts_t *g, sk_error_t *err);
int cmd_check(int argc, char **argv, const sk_global_opts_t *g, sk_error_t *err);
/* `update [--memory N] [--memory-swap N] [--cpu-quota N] [--cpu-period N] [--cpu-share N]
 *  [--pids-limit N] [-r resources.json] ID` (cmd_update.c). */
int cmd_update(int argc, char **argv, const sk_global_opts_t *g, sk_error_t *err);

#endif
