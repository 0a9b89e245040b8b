/* seccomp compiler tests: each profile is compiled here, loaded into a forked child (with
 * no_new_privs), and the child's syscalls show what the kernel did with the program.
 * Output is TAP (tests/tap.h); exit status 1 when anything failed. */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../src/seccomp.h"
#include "tap.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-const-variable"
#include "../src/seccomp_syscalls.h"
#pragma GCC diagnostic pop

#define X32_BIT 0x40000000L
#define I386_GETPID 20 /* asm/unistd_32.h */
#define I386_GETPPID 64

/* ---- running a body under a filter ---------------------------------------------------------- */

typedef uint64_t (*body_fn)(void *arg);

typedef struct outcome {
  bool compiled;
  sk_error_t err;  /* when !compiled */
  int status;      /* wait status of the child */
  uint64_t result; /* what the body returned (valid when it exited 0) */
  unsigned short len;
  struct sock_fprog prog;
} outcome_t;

static void child(const struct sock_fprog *prog, int wfd, body_fn body, void *arg) {
  sk_error_t err;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    _exit(120);
  if (seccomp_load(prog, &err) < 0) {
    (void)!write(2, err.msg, strlen(err.msg));
    _exit(121);
  }
  uint64_t r = body(arg);
  if (syscall(SYS_write, wfd, &r, sizeof r) != sizeof r)
    _exit(122);
  syscall(SYS_exit_group, 0);
}

/* Compiles sc; if that works, runs body under it in a child. */
static outcome_t run(const sk_seccomp_t *sc, body_fn body, void *arg) {
  outcome_t o = {0};
  o.compiled = seccomp_compile(sc, &o.prog, &o.err) == 0;
  if (!o.compiled)
    return o;
  o.len = o.prog.len;
  if (body == NULL)
    return o;
  int p[2];
  if (pipe(p) < 0) {
    perror("pipe");
    exit(2);
  }
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    exit(2);
  }
  if (pid == 0) {
    close(p[0]);
    child(&o.prog, p[1], body, arg);
  }
  close(p[1]);
  if (read(p[0], &o.result, sizeof o.result) != sizeof o.result)
    o.result = UINT64_MAX;
  close(p[0]);
  while (waitpid(pid, &o.status, 0) < 0 && errno == EINTR)
    ;
  return o;
}

static void outcome_free(outcome_t *o) { free(o->prog.filter); }

static bool exited_ok(const outcome_t *o) { return o->compiled && WIFEXITED(o->status) && WEXITSTATUS(o->status) == 0; }
static bool killed_by_sigsys(const outcome_t *o) { return o->compiled && WIFSIGNALED(o->status) && WTERMSIG(o->status) == SIGSYS; }

static const char *describe(const outcome_t *o) {
  static char buf[1200];
  if (!o->compiled)
    snprintf(buf, sizeof buf, "compile failed: %s", o->err.msg);
  else if (WIFSIGNALED(o->status))
    snprintf(buf, sizeof buf, "child killed by signal %d", WTERMSIG(o->status));
  else
    snprintf(buf, sizeof buf, "child exit %d, result %#llx", WEXITSTATUS(o->status), (unsigned long long)o->result);
  return buf;
}

/* ---- profiles ---------------------------------------------------------------------------- */

static char *ARCH_NATIVE[] = {"SCMP_ARCH_X86_64", NULL};
static char *ARCH_ALL_X86[] = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", NULL};
static char *N_GETPPID[] = {"getppid", NULL};
static char *N_LSEEK[] = {"lseek", NULL};

static sk_seccomp_t profile(sk_scmp_action_t dflt, char **archs, sk_scmp_rule_t *rules, size_t n) {
  return (sk_seccomp_t){.default_action = dflt, .default_errno_ret = EPERM, .architectures = archs, .rules = rules, .n_rules = n};
}

static sk_scmp_rule_t rule(char **names, sk_scmp_action_t act, uint32_t errno_ret) {
  return (sk_scmp_rule_t){.names = names, .action = act, .errno_ret = errno_ret};
}

/* ---- bodies (run after the filter is loaded: raw syscalls only) ---------------------------- */

/* result = errno of getppid, or 0 if it succeeded with the right value */
static uint64_t body_getppid(void *arg) {
  long want = (long)(intptr_t)arg;
  long r = syscall(SYS_getppid);
  if (r < 0)
    return (uint64_t)errno;
  return r == want ? 0 : 0xbad;
}

static uint64_t body_getpid_and_getppid(void *arg) {
  long me = (long)(intptr_t)arg;
  uint64_t out = 0;
  if (syscall(SYS_getpid) == me)
    out |= 1;
  if (syscall(SYS_getppid) < 0)
    out |= (uint64_t)errno << 8;
  if (syscall(SYS_getuid) < 0)
    out |= (uint64_t)errno << 16;
  return out;
}

/* lseek(/dev/null, probe, whence) for each probe: bit i set when probe i got EXDEV. */
typedef struct probes {
  int fd;
  int whence;
  const uint64_t *v;
  size_t n;
} probes_t;

static uint64_t body_lseek_probes(void *arg) {
  const probes_t *p = arg;
  uint64_t hits = 0;
  for (size_t i = 0; i < p->n; i++) {
    long r = syscall(SYS_lseek, p->fd, (long)p->v[i], p->whence);
    if (r < 0 && errno == EXDEV)
      hits |= 1ull << i;
    else if (r < 0)
      return 0xdead0000 | (uint64_t)errno;
  }
  return hits;
}

#if defined(__x86_64__)
static long int80(long nr) {
  long r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr) : "memory");
  return r;
}

/* Raw return values: x32 getppid, i386 getppid, i386 getpid. */
static uint64_t body_foreign_abis(void *arg) {
  (void)arg;
  uint64_t out = 0;
  long r = syscall(X32_BIT | SYS_getppid);
  out |= (uint64_t)(r < 0 ? errno : 0);
  out |= (uint64_t)(-int80(I386_GETPPID) & 0xff) << 8;
  out |= (uint64_t)(int80(I386_GETPID) == syscall(SYS_getpid)) << 16;
  return out;
}

static uint64_t body_x32_getppid(void *arg) {
  (void)arg;
  return syscall(X32_BIT | SYS_getppid) < 0 ? (uint64_t)errno : 0;
}

static uint64_t body_x32_getpid(void *arg) {
  (void)arg;
  return syscall(X32_BIT | SYS_getpid) < 0 ? (uint64_t)errno : 0;
}

static uint64_t body_i386_getpid(void *arg) {
  (void)arg;
  return (uint64_t)int80(I386_GETPID);
}
#endif

static volatile sig_atomic_t trapped_nr = -1;
static void on_sigsys(int sig, siginfo_t *si, void *uc) {
  (void)sig;
  (void)uc;
  trapped_nr = si->si_syscall;
}

static uint64_t body_trap(void *arg) {
  (void)arg;
  syscall(SYS_getppid);
  return (uint64_t)trapped_nr;
}

/* ---- a classic BPF interpreter, to run the program on other architectures' syscalls -------- */

/* Runs prog on a synthetic seccomp_data; returns the action, or 0xdeadbeef on a malformed
 * program (a jump out of range, an instruction the compiler should never emit). */
static uint32_t simulate(const struct sock_fprog *prog, uint32_t arch, int nr, const uint64_t args[6]) {
  struct seccomp_data d = {.nr = nr, .arch = arch};
  for (int i = 0; i < 6; i++)
    d.args[i] = args ? args[i] : 0;
  uint32_t a = 0;
  for (size_t pc = 0; pc < prog->len; pc++) {
    const struct sock_filter *f = &prog->filter[pc];
    switch (f->code) {
    case BPF_LD | BPF_W | BPF_ABS:
      if (f->k + 4 > sizeof d)
        return 0xdeadbeef;
      memcpy(&a, (const char *)&d + f->k, 4);
      break;
    case BPF_ALU | BPF_AND | BPF_K: a &= f->k; break;
    case BPF_JMP | BPF_JA: pc += f->k; break;
    case BPF_JMP | BPF_JEQ | BPF_K: pc += a == f->k ? f->jt : f->jf; break;
    case BPF_JMP | BPF_JGT | BPF_K: pc += a > f->k ? f->jt : f->jf; break;
    case BPF_JMP | BPF_JGE | BPF_K: pc += a >= f->k ? f->jt : f->jf; break;
    case BPF_RET | BPF_K: return f->k;
    default: return 0xdeadbeef;
    }
  }
  return 0xdeadbeef;
}

#define AARCH64_GETPPID 173 /* asm-generic/unistd.h */
#define AARCH64_LSEEK 62

/* aarch64 cannot run here; the same program is run in the interpreter instead. */
static void test_aarch64_simulated(void) {
  static char *archs[] = {"SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", NULL};
  sk_scmp_arg_t a = {.index = 1, .value = 0x100000005ull, .op = SK_SCMP_CMP_EQ};
  sk_scmp_rule_t r[] = {rule(N_GETPPID, SK_SCMP_ACT_ERRNO, EXDEV),
                        {.names = N_LSEEK, .action = SK_SCMP_ACT_KILL_PROCESS, .args = &a, .n_args = 1}};
  sk_seccomp_t sc = profile(SK_SCMP_ACT_ALLOW, archs, r, 2);
  outcome_t o = run(&sc, NULL, NULL);
  if (!tap_check(o.compiled, "aarch64 listed: compiles", "%s", o.err.msg))
    return;
  uint64_t hit[6] = {0, 0x100000005ull}, miss[6] = {0, 5};
  uint32_t getppid = simulate(&o.prog, AUDIT_ARCH_AARCH64, AARCH64_GETPPID, NULL);
  uint32_t other = simulate(&o.prog, AUDIT_ARCH_AARCH64, SYS_getppid /* an x86_64 number: another call on aarch64 */, NULL);
  tap_check(getppid == (SECCOMP_RET_ERRNO | EXDEV) && other == SECCOMP_RET_ALLOW, "aarch64 (simulated): rules use aarch64 numbers",
            "getppid %#x, nr 110 %#x", getppid, other);
  uint32_t h = simulate(&o.prog, AUDIT_ARCH_AARCH64, AARCH64_LSEEK, hit), m = simulate(&o.prog, AUDIT_ARCH_AARCH64, AARCH64_LSEEK, miss);
  tap_check(h == SECCOMP_RET_KILL_PROCESS && m == SECCOMP_RET_ALLOW, "aarch64 (simulated): 64-bit argument conditions", "hit %#x miss %#x", h,
            m);
  uint32_t arm = simulate(&o.prog, AUDIT_ARCH_ARM, 20, NULL), ppc = simulate(&o.prog, AUDIT_ARCH_PPC64LE, 20, NULL);
  tap_check(arm == SECCOMP_RET_KILL_PROCESS && ppc == SECCOMP_RET_KILL_PROCESS,
            "arm (listed, no table) and an unlisted architecture are killed", "arm %#x ppc64le %#x", arm, ppc);
  uint32_t x32 = simulate(&o.prog, AUDIT_ARCH_X86_64, (int)(X32_BIT | SYS_getpid), NULL);
  tap_check(x32 == SECCOMP_RET_KILL_PROCESS, "x32 numbers under the x86_64 arch are killed when x32 is not listed", "%#x", x32);
  outcome_free(&o);
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_errno_and_allow(void) {
  sk_scmp_rule_t r[] = {rule(N_GETPPID, SK_SCMP_ACT_ERRNO, EXDEV)};
  sk_seccomp_t sc = profile(SK_SCMP_ACT_ALLOW, ARCH_NATIVE, r, 1);
  outcome_t o = run(&sc, body_getpid_and_getppid, (void *)(intptr_t)0);
  tap_check(exited_ok(&o) && ((o.result >> 8) & 0xff) == EXDEV, "denied syscall returns the rule's errno", "%s", describe(&o));
  tap_check(exited_ok(&o) && ((o.result >> 16) & 0xff) == 0, "syscall without a rule takes the default (allow)", "%s", describe(&o));
  outcome_free(&o);
  sk_seccomp_t allow = profile(SK_SCMP_ACT_ALLOW, ARCH_NATIVE, NULL, 0);
  o = run(&allow, body_getppid, (void *)(intptr_t)getpid());
  tap_check(exited_ok(&o) && o.result == 0, "allowed syscall returns its real value", "%s", describe(&o));
  outcome_free(&o);
}

static void test_default_errno(void) {
  static char *allow[] = {"write", "exit_group", "exit", "getpid", NULL};
  sk_scmp_rule_t r[] = {rule(allow, SK_SCMP_ACT_ALLOW, 0)};
  sk_seccomp_t sc = profile(SK_SCMP_ACT_ERRNO, ARCH_NATIVE, r, 1);
  sc.default_errno_ret = ENOTTY;
  outcome_t o = run(&sc, body_getpid_and_getppid, (void *)(intptr_t)0);
  bool ok = exited_ok(&o) && ((o.result >> 16) & 0xff) == ENOTTY && ((o.result >> 8) & 0xff) == ENOTTY;
  tap_check(ok, "default ERRNO applies to every unlisted syscall, allow-list passes", "%s", describe(&o));
  outcome_free(&o);
}

static const char *op_name(sk_scmp_op_t op) {
  static const char *names[] = {"?", "NE", "LT", "LE", "EQ", "GE", "GT", "MASKED_EQ"};
  return names[op];
}

static bool op_holds(sk_scmp_op_t op, uint64_t a, uint64_t v, uint64_t v2) {
  switch (op) {
  case SK_SCMP_CMP_NE: return a != v;
  case SK_SCMP_CMP_LT: return a < v;
  case SK_SCMP_CMP_LE: return a <= v;
  case SK_SCMP_CMP_EQ: return a == v;
  case SK_SCMP_CMP_GE: return a >= v;
  case SK_SCMP_CMP_GT: return a > v;
  case SK_SCMP_CMP_MASKED_EQ: return (a & v) == v2;
  }
  return false;
}

/* Every operator against thresholds that straddle the 32-bit halves, probed with values that
 * differ only in the high half, only in the low half, and at the boundaries. */
static void test_arg_ops(int devnull) {
  static const uint64_t probes[] = {0, 1, 5, 0xffffffffull, 0x100000000ull, 0x100000001ull, 0x100000005ull,
                                    0x1ffffffffull, 0x200000000ull, 0x200000005ull, 0x7fffffffffffffffull};
  static const uint64_t thresholds[] = {5, 0xffffffffull, 0x100000000ull, 0x100000005ull};
  int failures = 0;
  char detail[1400] = "";
  for (sk_scmp_op_t op = SK_SCMP_CMP_NE; op <= SK_SCMP_CMP_GT; op++) {
    for (size_t t = 0; t < sizeof thresholds / sizeof thresholds[0]; t++) {
      sk_scmp_arg_t a = {.index = 1, .value = thresholds[t], .op = op};
      sk_scmp_rule_t r[] = {{.names = N_LSEEK, .action = SK_SCMP_ACT_ERRNO, .errno_ret = EXDEV, .args = &a, .n_args = 1}};
      sk_seccomp_t sc = profile(SK_SCMP_ACT_ALLOW, ARCH_NATIVE, r, 1);
      probes_t p = {devnull, SEEK_SET, probes, sizeof probes / sizeof probes[0]};
      outcome_t o = run(&sc, body_lseek_probes, &p);
      uint64_t want = 0;
      for (size_t i = 0; i < p.n; i++)
        want |= (uint64_t)op_holds(op, probes[i], thresholds[t], 0) << i;
      if (!exited_ok(&o) || o.result != want) {
        failures++;
        snprintf(detail, sizeof detail, "%s %#llx: got %#llx want %#llx (%s)", op_name(op),
                 (unsigned long long)thresholds[t], (unsigned long long)o.result, (unsigned long long)want, describe(&o));
      }
      outcome_free(&o);
    }
  }
  tap_check(failures == 0, "64-bit NE/LT/LE/EQ/GE/GT compare both halves", "%d failures, last: %s", failures, detail);
}

static void test_masked_eq(int devnull) {
  static const uint64_t probes[] = {0x1200000000000034ull, 0x12ffffffffffff34ull, 0x1300000000000034ull,
                                    0x1200000000000035ull, 0x0200000000000034ull, 0x34};
  sk_scmp_arg_t a = {.index = 1, .value = 0xff000000000000ffull, .value_two = 0x1200000000000034ull, .op = SK_SCMP_CMP_MASKED_EQ};
  sk_scmp_rule_t r[] = {{.names = N_LSEEK, .action = SK_SCMP_ACT_ERRNO, .errno_ret = EXDEV, .args = &a, .n_args = 1}};
  sk_seccomp_t sc = profile(SK_SCMP_ACT_ALLOW, ARCH_NATIVE, r, 1);
  probes_t p = {devnull, SEEK_SET, probes, sizeof probes / sizeof probes[0]};
  outcome_t o = run(&sc, body_lseek_probes, &p);
  tap_check(exited_ok(&o) && o.result == 0x3, "MASKED_EQ masks and compares both halves", "%s", describe(&o));
  outcome_free(&o);
}

/* Conditions on different arguments must all hold; several on one argument are alternatives. */
static void test_arg_combinations(int devnull) {
  static const uint64_t probes[] = {7, 8, 9};
  sk_scmp_arg_t and_args[] = {{.index = 1, .value = 8, .op = SK_SCMP_CMP_EQ}, {.index = 2, .value = SEEK_CUR, .op = SK_SCMP_CMP_EQ}};
  sk_scmp_rule_t r[] = {{.names = N_LSEEK, .action = SK_SCMP_ACT_ERRNO, .errno_ret = EXDEV, .args = and_args, .n_args = 2}};
  sk_seccomp_t sc = profile(SK_SCMP_ACT_ALLOW, ARCH_NATIVE, r, 1);
  probes_t cur = {devnull, SEEK_CUR, probes, 3}, set = {devnull, SEEK_SET, probes, 3};
  outcome_t a = run(&sc, body_lseek_probes, &cur), b = run(&sc, body_lseek_probes, &set);
  tap_check(exited_ok(&a) && a.result == 0x2 && exited_ok(&b) && b.result == 0, "conditions on different arguments are ANDed",
            "%s / %s", describe(&a), describe(&b));
  outcome_free(&a);
  outcome_free(&b);

  sk_scmp_arg_t or_args[] = {{.index = 1, .value = 7, .op = SK_SCMP_CMP_EQ}, {.index = 1, .value = 9, .op = SK_SCMP_CMP_EQ}};
  r[0].args = or_args;
  outcome_t c = run(&sc, body_lseek_probes, &set);
  tap_check(exited_ok(&c) && c.result == 0x5, "conditions on one argument are alternatives (as runc)", "%s", describe(&c));
  outcome_free(&c);
}

static void test_kill_actions(void) {
  sk_scmp_rule_t r[] = {rule(N_GETPPID, SK_SCMP_ACT_KILL_PROCESS, 0)};
  sk_seccomp_t sc = profile(SK_SCMP_ACT_ALLOW, ARCH_NATIVE, r, 1);
  outcome_t o = run(&sc, body_getppid, NULL);
  tap_check(killed_by_sigsys(&o), "KILL_PROCESS kills with SIGSYS", "%s", describe(&o));
  outcome_free(&o);
  r[0].action = SK_SCMP_ACT_KILL;
  o = run(&sc, body_getppid, NULL);
  tap_check(killed_by_sigsys(&o), "KILL (thread) kills the single-threaded process with SIGSYS", "%s", describe(&o));
  outcome_free(&o);
}

static void test_trap_log_trace(void) {
  struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
  struct sigaction old;
  sigaction(SIGSYS, &sa, &old); /* inherited by the child */
  sk_scmp_rule_t r[] = {rule(N_GETPPID, SK_SCMP_ACT_TRAP, 0)};
  sk_seccomp_t sc = profile(SK_SCMP_ACT_ALLOW, ARCH_NATIVE, r, 1);
  outcome_t o = run(&sc, body_trap, NULL);
  tap_check(exited_ok(&o) && o.result == SYS_getppid, "TRAP delivers SIGSYS naming the syscall", "%s", describe(&o));
  outcome_free(&o);
  sigaction(SIGSYS, &old, NULL);

  r[0].action = SK_SCMP_ACT_LOG;
  o = run(&sc, body_getppid, (void *)(intptr_t)getpid());
  tap_check(exited_ok(&o) && o.result == 0, "LOG lets the syscall run", "%s", describe(&o));
  outcome_free(&o);

  r[0].action = SK_SCMP_ACT_TRACE;
  o = run(&sc, body_getppid, NULL);
  tap_check(exited_ok(&o) && o.result == ENOSYS, "TRACE without a tracer fails the syscall with ENOSYS", "%s", describe(&o));
  outcome_free(&o);
}

static void test_names_and_errors(void) {
  static char *names[] = {"no_such_syscall", "getppid", NULL};
  sk_scmp_rule_t r[] = {rule(names, SK_SCMP_ACT_ERRNO, EXDEV)};
  sk_seccomp_t sc = profile(SK_SCMP_ACT_ALLOW, ARCH_NATIVE, r, 1);
  outcome_t o = run(&sc, body_getppid, NULL);
  tap_check(exited_ok(&o) && o.result == EXDEV, "unknown syscall names are skipped", "%s", describe(&o));
  outcome_free(&o);

  static char *bogus_arch[] = {"SCMP_ARCH_X86_64", "SCMP_ARCH_BOGUS", NULL};
  sc.architectures = bogus_arch;
  o = run(&sc, NULL, NULL);
  tap_check(!o.compiled && strstr(o.err.msg, "SCMP_ARCH_BOGUS") != NULL, "unknown architecture is an error naming it", "%s",
            o.compiled ? "compiled" : o.err.msg);
  outcome_free(&o);

  static char *other_arch[] = {"SCMP_ARCH_X86_64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_ARM", NULL};
  sc.architectures = other_arch;
  o = run(&sc, NULL, NULL);
  tap_check(o.compiled, "known architectures without a table are accepted", "%s", o.compiled ? "" : o.err.msg);
  outcome_free(&o);

  sc.architectures = ARCH_NATIVE;
  r[0].action = (sk_scmp_action_t)99;
  o = run(&sc, NULL, NULL);
  tap_check(!o.compiled && strstr(o.err.msg, "unknown action") != NULL, "unknown action is an error", "%s",
            o.compiled ? "compiled" : o.err.msg);
  outcome_free(&o);

  sk_scmp_arg_t bad = {.index = 6, .value = 1, .op = SK_SCMP_CMP_EQ};
  r[0] = (sk_scmp_rule_t){.names = names, .action = SK_SCMP_ACT_ERRNO, .errno_ret = EXDEV, .args = &bad, .n_args = 1};
  o = run(&sc, NULL, NULL);
  tap_check(!o.compiled && strstr(o.err.msg, "argument index 6") != NULL, "argument index past 5 is an error", "%s",
            o.compiled ? "compiled" : o.err.msg);
  outcome_free(&o);
}

#if defined(__x86_64__)
static void test_foreign_abis(void) {
  sk_scmp_rule_t r[] = {rule(N_GETPPID, SK_SCMP_ACT_ERRNO, EXDEV)};
  sk_seccomp_t native = profile(SK_SCMP_ACT_ALLOW, ARCH_NATIVE, r, 1);
  outcome_t o = run(&native, body_x32_getppid, NULL);
  tap_check(killed_by_sigsys(&o), "x32 syscall is killed when x32 is not listed (no bypass)", "%s", describe(&o));
  outcome_free(&o);
  o = run(&native, body_x32_getpid, NULL);
  tap_check(killed_by_sigsys(&o), "x32 syscall without a rule is killed too when x32 is not listed", "%s", describe(&o));
  outcome_free(&o);
  o = run(&native, body_i386_getpid, NULL);
  tap_check(killed_by_sigsys(&o), "i386 syscall (int 0x80) is killed when x86 is not listed", "%s", describe(&o));
  outcome_free(&o);

  sk_seccomp_t all = profile(SK_SCMP_ACT_ALLOW, ARCH_ALL_X86, r, 1);
  o = run(&all, body_foreign_abis, NULL);
  tap_check(exited_ok(&o) && (o.result & 0xff) == EXDEV, "x32 listed: the x32 getppid number hits the rule", "%s", describe(&o));
  tap_check(exited_ok(&o) && ((o.result >> 8) & 0xff) == EXDEV, "x86 listed: the i386 getppid number hits the rule", "%s",
            describe(&o));
  tap_check(exited_ok(&o) && ((o.result >> 16) & 1), "x86 listed: i386 getpid without a rule runs", "%s", describe(&o));
  outcome_free(&o);
  o = run(&all, body_x32_getpid, NULL);
  /* The filter lets it through; this kernel has no x32 ABI, so the call itself says ENOSYS. */
  tap_check(exited_ok(&o) && (o.result == 0 || o.result == ENOSYS), "x32 listed: x32 syscall without a rule passes the filter",
            "%s", describe(&o));
  outcome_free(&o);
}
#endif

/* Rules far apart: many conditional rules push the later sections and the last rule beyond the
 * 8-bit reach of conditional jumps, so trampolines must carry them. */
static void test_far_jumps(int devnull) {
  enum { N = 150 };
  static sk_scmp_arg_t args[N];
  static sk_scmp_rule_t rules[N + 1];
  for (int i = 0; i < N; i++) {
    args[i] = (sk_scmp_arg_t){.index = 1, .value = 1000 + (uint64_t)i, .op = SK_SCMP_CMP_EQ};
    rules[i] = (sk_scmp_rule_t){.names = N_LSEEK, .action = SK_SCMP_ACT_ERRNO, .errno_ret = EXDEV, .args = &args[i], .n_args = 1};
  }
  rules[N] = rule(N_GETPPID, SK_SCMP_ACT_ERRNO, EXDEV);
  sk_seccomp_t sc = profile(SK_SCMP_ACT_ALLOW, ARCH_ALL_X86, rules, N + 1);
  static const uint64_t probes[] = {1000, 1000 + N - 1, 1000 + N, 5000};
  probes_t p = {devnull, SEEK_SET, probes, 4};
  outcome_t o = run(&sc, body_lseek_probes, &p);
  size_t jas = 0;
  for (size_t i = 0; o.compiled && i < o.prog.len; i++)
    jas += o.prog.filter[i].code == (BPF_JMP | BPF_JA);
  tap_note("far-jump profile: %u instructions, %zu trampolines", o.len, jas);
  tap_check(exited_ok(&o) && o.result == 0x3 && jas > 0, "long profile: first and last conditional rules match (far jumps)",
            "%s, %zu trampolines", describe(&o), jas);
  outcome_free(&o);
  o = run(&sc, body_getppid, NULL);
  tap_check(exited_ok(&o) && o.result == EXDEV, "long profile: the rule after them still matches", "%s", describe(&o));
  outcome_free(&o);
#if defined(__x86_64__)
  o = run(&sc, body_foreign_abis, NULL);
  tap_check(exited_ok(&o) && (o.result & 0xffff) == (EXDEV | EXDEV << 8), "long profile: the x32 and i386 sections are reached",
            "%s", describe(&o));
  outcome_free(&o);
#endif
}

/* A profile the size of the common container defaults: every x86_64 syscall but one allowed,
 * default ERRNO, three architectures. */
static void test_large_allowlist(void) {
  size_t n = sizeof sk_syscalls_x86_64 / sizeof sk_syscalls_x86_64[0];
  char **names = calloc(n + 1, sizeof *names);
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (strcmp(sk_syscalls_x86_64[i].name, "getppid") != 0)
      names[k++] = (char *)sk_syscalls_x86_64[i].name;
  sk_scmp_arg_t personality[] = {{.index = 0, .value = 0, .op = SK_SCMP_CMP_EQ}};
  static char *N_PERSONALITY[] = {"personality", NULL};
  sk_scmp_rule_t r[] = {{.names = N_PERSONALITY, .action = SK_SCMP_ACT_ALLOW, .args = personality, .n_args = 1},
                        rule(names, SK_SCMP_ACT_ALLOW, 0)};
  sk_seccomp_t sc = profile(SK_SCMP_ACT_ERRNO, ARCH_ALL_X86, r, 2);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  outcome_t timed = run(&sc, NULL, NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  outcome_free(&timed);
  outcome_t o = run(&sc, body_getppid, NULL);
  tap_note("allow-list of %zu syscalls on 3 architectures: %u instructions, compiled in %.3f ms", k, o.len,
           (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
  tap_check(exited_ok(&o) && o.result == EPERM && o.len < BPF_MAXINSNS, "large allow-list compiles and loads; the one left out is refused",
            "%s (%u instructions)", describe(&o), o.len);
  outcome_free(&o);
  free(names);
}

static void test_too_long(void) {
  enum { N = 1200 };
  sk_scmp_arg_t *args = calloc(N, sizeof *args);
  sk_scmp_rule_t *rules = calloc(N, sizeof *rules);
  for (int i = 0; i < N; i++) {
    args[i] = (sk_scmp_arg_t){.index = 0, .value = (uint64_t)i, .op = SK_SCMP_CMP_EQ};
    rules[i] = (sk_scmp_rule_t){.names = N_LSEEK, .action = SK_SCMP_ACT_ERRNO, .errno_ret = EXDEV, .args = &args[i], .n_args = 1};
  }
  sk_seccomp_t sc = profile(SK_SCMP_ACT_ALLOW, ARCH_NATIVE, rules, N);
  outcome_t o = run(&sc, NULL, NULL);
  tap_check(!o.compiled && strstr(o.err.msg, "limit of 4096") != NULL, "a profile over 4096 instructions is a clear error", "%s",
            o.compiled ? "compiled" : o.err.msg);
  outcome_free(&o);
  free(args);
  free(rules);
}

int main(void) {
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0) {
    perror("open /dev/null");
    return 2;
  }
  test_errno_and_allow();
  test_default_errno();
  test_arg_ops(devnull);
  test_masked_eq(devnull);
  test_arg_combinations(devnull);
  test_kill_actions();
  test_trap_log_trace();
  test_names_and_errors();
#if defined(__x86_64__)
  test_foreign_abis();
#endif
  test_aarch64_simulated();
  test_far_jumps(devnull);
  test_large_allowlist();
  test_too_long();
  return tap_done();
}
