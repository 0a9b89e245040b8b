/* Parsed linux.seccomp and its compilation to a classic BPF program (with the architecture
 * check first). Compiled in the parent, loaded last, just before execve. */
#ifndef SK_SECCOMP_H
#define SK_SECCOMP_H

#include <stddef.h>
#include <stdint.h>
#include <linux/filter.h>
#include "error.h"

typedef enum {
  SK_SCMP_ACT_KILL = 1,        /* SCMP_ACT_KILL / SCMP_ACT_KILL_THREAD */
  SK_SCMP_ACT_KILL_PROCESS,
  SK_SCMP_ACT_TRAP,
  SK_SCMP_ACT_ERRNO,           /* with errno_ret (default EPERM) */
  SK_SCMP_ACT_TRACE,
  SK_SCMP_ACT_ALLOW,
  SK_SCMP_ACT_LOG,
} sk_scmp_action_t;

/* One syscall argument comparison (runtime-spec linux.seccomp.syscalls[].args[]). */
typedef enum { SK_SCMP_CMP_NE = 1, SK_SCMP_CMP_LT, SK_SCMP_CMP_LE, SK_SCMP_CMP_EQ, SK_SCMP_CMP_GE, SK_SCMP_CMP_GT, SK_SCMP_CMP_MASKED_EQ } sk_scmp_op_t;
typedef struct sk_scmp_arg {
  unsigned index;
  uint64_t value, value_two;
  sk_scmp_op_t op;
} sk_scmp_arg_t;

typedef struct sk_scmp_rule {
  char **names;          /* NULL-terminated */
  sk_scmp_action_t action;
  uint32_t errno_ret;    /* for SK_SCMP_ACT_ERRNO */
  sk_scmp_arg_t *args;
  size_t n_args;
} sk_scmp_rule_t;

typedef struct sk_seccomp {
  sk_scmp_action_t default_action;
  uint32_t default_errno_ret;
  char **architectures;  /* NULL-terminated: "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM" … */
  sk_scmp_rule_t *rules;
  size_t n_rules;
} sk_seccomp_t;

/* Compiles to BPF. Unknown syscall names for the native architecture are skipped (as runc does
 * for names absent on an architecture); an unknown architecture or action is an error.
 * Foreign architectures not listed are killed (SECCOMP_RET_KILL_PROCESS). */
int seccomp_compile(const sk_seccomp_t *sc, struct sock_fprog *prog, sk_error_t *err);
/* Loads it into the calling thread (needs no_new_privs or CAP_SYS_ADMIN). */
int seccomp_load(const struct sock_fprog *prog, sk_error_t *err);

#endif
