#include "cmdutil.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "util.h"

int cmd_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts, sk_error_t *err) {
  opterr = 0;
  char spec[64];
  snprintf(spec, sizeof spec, "+:%s", shortopts);
  int c = getopt_long(argc, argv, spec, longopts, NULL);
  if (c != '?' && c != ':')
    return c;
  if (c == ':')
    sk_error_set(err, EINVAL, "%s: option `%s` needs a value", argv[0], argv[optind - 1]);
  else if (optopt != 0)
    sk_error_set(err, EINVAL, "%s: unknown option `-%c`", argv[0], optopt);
  else
    sk_error_set(err, EINVAL, "%s: unknown option `%s`", argv[0], argv[optind - 1]);
  return SK_OPT_ERROR;
}

int cmd_one_id(int argc, char **argv, const char *usage, const char **id, sk_error_t *err) {
  if (argc - optind != 1)
    return sk_error_set(err, EINVAL, "%s: expected exactly one container id (usage: %s)", argv[0], usage);
  *id = argv[optind];
  return 0;
}

static const struct {
  const char *name;
  int sig;
} signals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT},   {"ILL", SIGILL},   {"TRAP", SIGTRAP},     {"ABRT", SIGABRT},
    {"IOT", SIGIOT},   {"BUS", SIGBUS},       {"FPE", SIGFPE},     {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2}, {"PIPE", SIGPIPE},     {"ALRM", SIGALRM},   {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},
    {"CONT", SIGCONT}, {"STOP", SIGSTOP},     {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
    {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},     {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
    {"POLL", SIGPOLL}, {"PWR", SIGPWR},       {"SYS", SIGSYS},
};

int signal_from_name(const char *name) {
  long long n;
  if (parse_int64(name, &n))
    return n >= 1 && n < NSIG ? (int)n : -1;
  if (strncasecmp(name, "SIG", 3) == 0)
    name += 3;
  for (size_t i = 0; i < SK_ARRAY_SIZE(signals); i++)
    if (strcasecmp(signals[i].name, name) == 0)
      return signals[i].sig;
  if (strncasecmp(name, "RTMIN+", 6) == 0 && parse_int64(name + 6, &n) && SIGRTMIN + n <= SIGRTMAX && n >= 0)
    return SIGRTMIN + (int)n;
  return -1;
}
