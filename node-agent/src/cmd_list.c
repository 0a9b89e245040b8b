/* list [--format table|json] [--quiet]: every container under the state root. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmdutil.h"
#include "commands.h"
#include "state.h"
#include "util.h"

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The ids, sorted; an absent root is an empty list. */
static int list_ids(const char *root, char ***ids, size_t *n, sk_error_t *err) {
  *ids = NULL;
  *n = 0;
  DIR *d = opendir(root);
  if (d == NULL)
    return errno == ENOENT ? 0 : sk_error_errno(err, "list: open `%s`", root);
  size_t cap = 0;
  for (struct dirent *de; (de = readdir(d)) != NULL;) {
    if (de->d_name[0] == '.' || (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
      continue;
    if (*n + 1 >= cap)
      *ids = xrealloc(*ids, (cap = cap ? cap * 2 : 16) * sizeof(char *));
    (*ids)[(*n)++] = xstrdup(de->d_name);
  }
  closedir(d);
  if (*n)
    qsort(*ids, *n, sizeof(char *), cmp_names);
  return 0;
}

static void print_one(const sk_state_t *st, bool json, bool quiet, bool first) {
  if (json) {
    fputs(first ? "" : ",", stdout);
    state_print_json(stdout, st, -1);
  } else if (quiet) {
    printf("%s\n", st->id);
  } else {
    bool live = st->status == SK_STATUS_CREATED || st->status == SK_STATUS_RUNNING;
    printf("%-24s %-8d %-10s %-40s %s\n", st->id, live ? (int)st->pid : 0, state_status_name(st->status), st->bundle, st->created);
  }
}

int cmd_list(int argc, char **argv, const sk_global_opts_t *g, sk_error_t *err) {
  static const struct option longopts[] = {{"format", required_argument, NULL, 'f'}, {"quiet", no_argument, NULL, 'q'}, {NULL, 0, NULL, 0}};
  bool json = false, quiet = false;
  for (int c; (c = cmd_getopt(argc, argv, "f:q", longopts, err)) != -1;) {
    if (c == 'f' && (strcmp(optarg, "json") == 0 || strcmp(optarg, "table") == 0))
      json = strcmp(optarg, "json") == 0;
    else if (c == 'q')
      quiet = true;
    else
      return c == 'f' ? sk_error_set(err, EINVAL, "list: unknown format `%s` (table or json)", optarg) : -1;
  }
  if (optind != argc)
    return sk_error_set(err, EINVAL, "list: takes no operands");
  cleanup_strv char **ids = NULL;
  size_t n;
  if (list_ids(g->root, &ids, &n, err) < 0)
    return -1;
  ids = xrealloc(ids, (n + 1) * sizeof(char *));
  ids[n] = NULL;
  if (json)
    fputs("[", stdout);
  else if (!quiet)
    printf("%-24s %-8s %-10s %-40s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED");
  bool first = true;
  for (size_t i = 0; i < n; i++) {
    sk_state_t st;
    sk_error_t ignored;
    if (state_load(g->root, ids[i], &st, &ignored) < 0)
      continue; /* deleted meanwhile, or not ours */
    print_one(&st, json, quiet, first);
    first = false;
    state_free(&st);
  }
  if (json)
    fputs("]\n", stdout);
  return 0;
}
