/* node-agent [global options] COMMAND [options] — a runc-style CLI over OCI bundles. main
 * parses the global options, dispatches through the command table, and is the only place
 * that prints errors: one JSON line with --log-format json, "node-agent: error: …" otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "commands.h"
#include "json.h"
#include "util.h"

#define SK_VERSION "0.1.0"

static const struct {
  const char *name;
  sk_command_fn fn;
  const char *usage;
} commands[] = {
    {"create", cmd_create, "create [--bundle DIR] [--pid-file FILE] ID"},
    {"start", cmd_start, "start ID"},
    {"run", cmd_run, "run [--bundle DIR] [--pid-file FILE] [--detach] ID"},
    {"exec", cmd_exec, "exec [--process FILE | -e K=V --cwd DIR --user UID[:GID]] [--detach] [--pid-file FILE] ID [--] CMD..."},
    {"state", cmd_state, "state ID"},
    {"kill", cmd_kill, "kill [--all] ID [SIGNAL]"},
    {"delete", cmd_delete, "delete [--force] ID"},
    {"list", cmd_list, "list [--format table|json] [--quiet]"},
    {"check", cmd_check, "check"},
    {"update", cmd_update, "update [--memory N] [--memory-swap N] [--cpu-quota N] [--cpu-period N] [--cpu-share N] [--pids-limit N] [-r FILE] ID"},
};

static void usage(FILE *f) {
  fprintf(f, "usage: node-agent [--root DIR] [--log FILE] [--log-format text|json] COMMAND [OPTIONS]\n\ncommands:\n");
  for (size_t i = 0; i < SK_ARRAY_SIZE(commands); i++)
    fprintf(f, "  %s\n", commands[i].usage);
}

static void print_error(FILE *f, const sk_global_opts_t *g, const sk_error_t *err) {
  if (g->log_format == SK_LOG_JSON) {
    fputs("{\"level\":\"error\",\"msg\":", f);
    json_write_string(f, err->msg);
    fprintf(f, ",\"errno\":%d}\n", err->errno_);
  } else {
    fprintf(f, "node-agent: error: %s\n", err->msg);
  }
}

static int report(const sk_global_opts_t *g, const sk_error_t *err) {
  fflush(stdout);
  print_error(stderr, g, err);
  if (g->log_path != NULL) {
    FILE *f = fopen(g->log_path, "ae");
    if (f != NULL) {
      print_error(f, g, err);
      fclose(f);
    }
  }
  return 1;
}

/* "--name=value" or "--name value"; returns the value or NULL when this is not --name. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, bool *missing) {
  size_t n = strlen(name);
  if (strncmp(argv[*i], name, n) != 0)
    return NULL;
  if (argv[*i][n] == '=')
    return argv[*i] + n + 1;
  if (argv[*i][n] != '\0')
    return NULL;
  if (*i + 1 >= argc) {
    *missing = true;
    return NULL;
  }
  return argv[++*i];
}

static int global_value(const char *name, const char *v, sk_global_opts_t *g, sk_error_t *err) {
  if (strcmp(name, "--root") == 0)
    g->root = v;
  else if (strcmp(name, "--log") == 0)
    g->log_path = v;
  else if (strcmp(name, "--log-format") == 0 && (strcmp(v, "json") == 0 || strcmp(v, "text") == 0))
    g->log_format = strcmp(v, "json") == 0 ? SK_LOG_JSON : SK_LOG_TEXT;
  else if (strcmp(name, "--log-format") == 0)
    return sk_error_set(err, EINVAL, "--log-format: `%s` is neither json nor text", v);
  else if (strcmp(name, "--cgroup-manager") == 0 && strcmp(v, "cgroupfs") != 0)
    return sk_error_set(err, EOPNOTSUPP, "--cgroup-manager %s is not supported (only cgroupfs)", v);
  else if (strcmp(name, "--rootless") == 0 && strcmp(v, "false") != 0 && strcmp(v, "auto") != 0)
    return sk_error_set(err, EOPNOTSUPP, "--rootless %s is not supported: node-agent runs as root", v);
  return 0; /* --criu PATH: accepted, never used */
}

/* Returns the index of the command word, 0 when the run is over (help/version), < 0 on error. */
static int parse_globals(int argc, char **argv, sk_global_opts_t *g, sk_error_t *err) {
  static const char *const with_value[] = {"--root", "--log", "--log-format", "--cgroup-manager", "--rootless", "--criu"};
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *a = argv[i];
    bool missing = false, matched = false;
    for (size_t k = 0; k < SK_ARRAY_SIZE(with_value) && !matched; k++) {
      const char *v = opt_value(argc, argv, &i, with_value[k], &missing);
      if (missing)
        return sk_error_set(err, EINVAL, "%s needs a value", with_value[k]);
      if (v != NULL && global_value(with_value[k], v, g, err) < 0)
        return -1;
      matched = v != NULL;
    }
    if (matched || strcmp(a, "--debug") == 0)
      continue;
    if (strcmp(a, "--systemd-cgroup") == 0)
      return sk_error_set(err, EOPNOTSUPP, "--systemd-cgroup is not supported: node-agent manages cgroupfs directly");
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return 0;
    }
    if (strcmp(a, "--version") == 0 || strcmp(a, "-v") == 0) {
      printf("node-agent version %s\nspec: 1.2.0\n", SK_VERSION);
      return 0;
    }
    return sk_error_set(err, EINVAL, "unknown global option `%s`", a);
  }
  if (i >= argc) {
    usage(stderr);
    return sk_error_set(err, EINVAL, "no command given");
  }
  return i;
}

int main(int argc, char **argv) {
  sk_global_opts_t g = {.root = SK_DEFAULT_ROOT, .log_format = SK_LOG_TEXT};
  sk_error_t err = {0};
  int i = parse_globals(argc, argv, &g, &err);
  if (i <= 0)
    return i < 0 ? report(&g, &err) : 0;
  for (size_t k = 0; k < SK_ARRAY_SIZE(commands); k++) {
    if (strcmp(commands[k].name, argv[i]) != 0)
      continue;
    optind = 0; /* full getopt reinitialisation for the command's own argv */
    int r = commands[k].fn(argc - i, argv + i, &g, &err);
    if (r < 0)
      return report(&g, &err);
    if (fflush(stdout) != 0) {
      sk_error_errno(&err, "write stdout");
      return report(&g, &err);
    }
    return r;
  }
  sk_error_set(&err, EINVAL, "unknown command `%s`", argv[i]);
  return report(&g, &err);
}
