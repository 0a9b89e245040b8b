/* linux.seccomp compiled to a classic BPF program, and loaded.
 *
 * Layout of the program:
 *
 *     ld  [arch]
 *     jeq AUDIT_ARCH_X86_64 → x86_64 section   (one line per listed architecture family)
 *     jeq AUDIT_ARCH_I386   → i386 section
 *     ret KILL_PROCESS                          (an architecture nobody listed)
 *   x86_64 section:
 *     ld  [nr]
 *     jge __X32_SYSCALL_BIT → x32 part, or KILL_PROCESS when x32 is not listed: an x32 syscall
 *                             enters with the x86_64 audit arch, so without this check it would
 *                             be judged by the x86_64 rules under another number
 *     rules…  ret default
 *   x32 part: rules… ret default
 *   i386 section, aarch64 section: ld [nr]; rules…; ret default
 *
 * A rule without argument conditions is a run of `jeq nr → ret ACTION` with the `ret` right after
 * the run, so the jumps stay short. A rule with conditions checks nr, then each 64-bit argument
 * as two 32-bit halves, and reloads nr when a condition fails. Rules match first to last.
 * Jumps are emitted against labels; a final pass turns any conditional jump that reaches further
 * than 255 instructions into a short jump over a `ja` (32-bit offset) trampoline. */
#include "seccomp.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "seccomp_syscalls.h"

#ifndef __X32_SYSCALL_BIT
#define __X32_SYSCALL_BIT 0x40000000
#endif

/* ---- program builder: instructions with symbolic jump targets ---------------------------- */

#define LABEL_NEXT (-1) /* the instruction right after */

typedef struct op {
  uint16_t code;
  uint32_t k;
  int jt, jf; /* labels, for conditional jumps */
} op_t;

typedef struct builder {
  op_t *ops;
  size_t n, cap;
  size_t *labels; /* label id → index of the op it precedes (SIZE_MAX while unbound) */
  size_t n_labels, cap_labels;
  bool oom;
} builder_t;

static void builder_free(builder_t *b) {
  free(b->ops);
  free(b->labels);
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap)
    return true;
  size_t ncap = *cap ? *cap * 2 : 256;
  while (ncap < need)
    ncap *= 2;
  void *np = realloc(*p, ncap * elem);
  if (np == NULL)
    return false;
  *p = np;
  *cap = ncap;
  return true;
}

static int new_label(builder_t *b) {
  if (!grow((void **)&b->labels, &b->cap_labels, b->n_labels + 1, sizeof *b->labels)) {
    b->oom = true;
    return LABEL_NEXT;
  }
  b->labels[b->n_labels] = SIZE_MAX;
  return (int)b->n_labels++;
}

static void bind(builder_t *b, int label) {
  if (label >= 0)
    b->labels[label] = b->n;
}

static void emit(builder_t *b, uint16_t code, uint32_t k, int jt, int jf) {
  if (!grow((void **)&b->ops, &b->cap, b->n + 1, sizeof *b->ops)) {
    b->oom = true;
    return;
  }
  b->ops[b->n++] = (op_t){.code = code, .k = k, .jt = jt, .jf = jf};
}

static void stmt(builder_t *b, uint16_t code, uint32_t k) { emit(b, code, k, LABEL_NEXT, LABEL_NEXT); }
static void ret(builder_t *b, uint32_t k) { stmt(b, BPF_RET | BPF_K, k); }
static void load(builder_t *b, uint32_t offset) { stmt(b, BPF_LD | BPF_W | BPF_ABS, offset); }
static void jump(builder_t *b, uint16_t cmp, uint32_t k, int jt, int jf) { emit(b, BPF_JMP | cmp | BPF_K, k, jt, jf); }

static bool is_cond(const op_t *o) { return BPF_CLASS(o->code) == BPF_JMP && BPF_OP(o->code) != BPF_JA; }

enum { FAR_T = 1, FAR_F = 2 };

static size_t op_size(unsigned char far) { return 1 + ((far & FAR_T) != 0) + ((far & FAR_F) != 0); }

static size_t target_op(const builder_t *b, size_t i, int label) {
  return label == LABEL_NEXT ? i + 1 : b->labels[label];
}

static void layout(const builder_t *b, const unsigned char *far, size_t *pos) {
  pos[0] = 0;
  for (size_t i = 0; i < b->n; i++)
    pos[i + 1] = pos[i] + op_size(far[i]);
}

/* Marks conditional jumps whose offsets do not fit 8 bits; returns whether any changed. */
static bool mark_far_jumps(const builder_t *b, unsigned char *far, const size_t *pos) {
  bool changed = false;
  for (size_t i = 0; i < b->n; i++) {
    if (!is_cond(&b->ops[i]))
      continue;
    if (!(far[i] & FAR_T) && pos[target_op(b, i, b->ops[i].jt)] - pos[i] - 1 > 255) {
      far[i] |= FAR_T;
      changed = true;
    }
    if (!(far[i] & FAR_F) && pos[target_op(b, i, b->ops[i].jf)] - pos[i] - 1 > 255) {
      far[i] |= FAR_F;
      changed = true;
    }
  }
  return changed;
}

static void write_op(const builder_t *b, size_t i, unsigned char far, const size_t *pos, struct sock_filter *out) {
  const op_t *o = &b->ops[i];
  size_t p = pos[i];
  if (!is_cond(o)) {
    out[p] = (struct sock_filter)BPF_STMT(o->code, o->k);
    return;
  }
  size_t t = pos[target_op(b, i, o->jt)], f = pos[target_op(b, i, o->jf)];
  size_t q = p + 1; /* where the trampolines go */
  uint8_t jt = 0, jf = 0;
  if (far & FAR_T) {
    jt = (uint8_t)(q - p - 1);
    out[q] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA, (uint32_t)(t - q - 1), 0, 0);
    q++;
  } else {
    jt = (uint8_t)(t - p - 1);
  }
  if (far & FAR_F) {
    jf = (uint8_t)(q - p - 1);
    out[q] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA, (uint32_t)(f - q - 1), 0, 0);
  } else {
    jf = (uint8_t)(f - p - 1);
  }
  out[p] = (struct sock_filter)BPF_JUMP(o->code, o->k, jt, jf);
}

static int builder_finish(builder_t *b, struct sock_fprog *prog, sk_error_t *err) {
  if (b->oom)
    return sk_error_set(err, ENOMEM, "seccomp: compile");
  for (size_t i = 0; i < b->n; i++) {
    const op_t *o = &b->ops[i];
    if (!is_cond(o))
      continue;
    int used[2] = {o->jt, o->jf};
    for (int u = 0; u < 2; u++) {
      size_t t = used[u] == LABEL_NEXT ? i + 1 : b->labels[used[u]];
      if (t <= i || t >= b->n) /* BPF jumps only forward, to an instruction */
        return sk_error_set(err, 0, "seccomp: internal error: bad jump at %zu", i);
    }
  }
  unsigned char *far = calloc(b->n, 1);
  size_t *pos = calloc(b->n + 1, sizeof *pos);
  if (far == NULL || pos == NULL) {
    free(far);
    free(pos);
    return sk_error_set(err, ENOMEM, "seccomp: compile");
  }
  /* Sizes only grow, so this settles. */
  do
    layout(b, far, pos);
  while (mark_far_jumps(b, far, pos));
  size_t len = pos[b->n];
  int r = 0;
  if (len > BPF_MAXINSNS) {
    r = sk_error_set(err, 0, "seccomp: the profile compiles to %zu BPF instructions, more than the kernel's limit of %d",
                     len, BPF_MAXINSNS);
  } else {
    struct sock_filter *out = calloc(len, sizeof *out);
    if (out == NULL) {
      r = sk_error_set(err, ENOMEM, "seccomp: compile");
    } else {
      for (size_t i = 0; i < b->n; i++)
        write_op(b, i, far[i], pos, out);
      prog->filter = out;
      prog->len = (unsigned short)len;
    }
  }
  free(far);
  free(pos);
  return r;
}

/* ---- architectures ------------------------------------------------------------------------ */

typedef enum { ARCH_X86_64 = 1, ARCH_I386 = 2, ARCH_X32 = 4, ARCH_AARCH64 = 8, ARCH_ARM = 16 } arch_bit_t;

/* Architectures libseccomp knows but this compiler has no table for. None of them can run on
 * the hosts we support except arm on aarch64; listing them is accepted and their syscalls fall
 * to the "unlisted architecture" kill, which is the closed default. */
static const char *const ARCH_WITHOUT_TABLE[] = {
    "SCMP_ARCH_ARM",       "SCMP_ARCH_MIPS",    "SCMP_ARCH_MIPS64",    "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",  "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",   "SCMP_ARCH_PPC64",     "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",      "SCMP_ARCH_S390X",   "SCMP_ARCH_PARISC",    "SCMP_ARCH_PARISC64",  "SCMP_ARCH_RISCV64",
    "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K",  "SCMP_ARCH_SH",        "SCMP_ARCH_SHEB",      NULL,
};

static int native_arch(unsigned *bits, sk_error_t *err) {
#if defined(__x86_64__) && defined(__ILP32__)
  *bits = ARCH_X32;
#elif defined(__x86_64__)
  *bits = ARCH_X86_64;
#elif defined(__i386__)
  *bits = ARCH_I386;
#elif defined(__aarch64__)
  *bits = ARCH_AARCH64;
#else
  *bits = 0;
  return sk_error_set(err, 0, "seccomp: this host architecture has no syscall table");
#endif
  (void)err;
  return 0;
}

/* The native architecture is always filtered (as libseccomp's filter context always holds it). */
static int parse_archs(char *const *names, unsigned *bits, sk_error_t *err) {
  if (native_arch(bits, err) < 0)
    return -1;
  for (size_t i = 0; names != NULL && names[i] != NULL; i++) {
    const char *n = names[i];
    if (strcmp(n, "SCMP_ARCH_X86_64") == 0)
      *bits |= ARCH_X86_64;
    else if (strcmp(n, "SCMP_ARCH_X86") == 0)
      *bits |= ARCH_I386;
    else if (strcmp(n, "SCMP_ARCH_X32") == 0)
      *bits |= ARCH_X32;
    else if (strcmp(n, "SCMP_ARCH_AARCH64") == 0)
      *bits |= ARCH_AARCH64;
    else {
      bool known = false;
      for (size_t j = 0; ARCH_WITHOUT_TABLE[j] != NULL; j++)
        known = known || strcmp(n, ARCH_WITHOUT_TABLE[j]) == 0;
      if (!known)
        return sk_error_set(err, 0, "seccomp: unknown architecture `%s`", n);
    }
  }
  return 0;
}

typedef struct arch_table {
  const sk_syscall_nr_t *tab;
  size_t n;
  bool args64; /* 32-bit ABIs pass 32-bit arguments: only the low half is compared */
} arch_table_t;

#define TABLE(t, wide) ((arch_table_t){t, sizeof t / sizeof t[0], wide})

static int cmp_name(const void *key, const void *elem) {
  return strcmp((const char *)key, ((const sk_syscall_nr_t *)elem)->name);
}

static bool syscall_nr(const arch_table_t *t, const char *name, uint32_t *nr) {
  const sk_syscall_nr_t *e = bsearch(name, t->tab, t->n, sizeof *t->tab, cmp_name);
  if (e == NULL)
    return false;
  *nr = (uint32_t)e->nr;
  return true;
}

/* ---- actions ------------------------------------------------------------------------------ */

static int action_value(sk_scmp_action_t act, uint32_t errno_ret, uint32_t *out, sk_error_t *err) {
  /* The runtime-spec's errnoRet defaults to EPERM; 0 would make a refused call look like a
   * success, so it also means EPERM here. */
  if (errno_ret == 0)
    errno_ret = EPERM;
  if (errno_ret > SECCOMP_RET_DATA)
    return sk_error_set(err, 0, "seccomp: errnoRet %u is out of range", errno_ret);
  switch (act) {
  case SK_SCMP_ACT_KILL: *out = SECCOMP_RET_KILL_THREAD; return 0;
  case SK_SCMP_ACT_KILL_PROCESS: *out = SECCOMP_RET_KILL_PROCESS; return 0;
  case SK_SCMP_ACT_TRAP: *out = SECCOMP_RET_TRAP; return 0;
  case SK_SCMP_ACT_ERRNO: *out = SECCOMP_RET_ERRNO | errno_ret; return 0;
  case SK_SCMP_ACT_TRACE: *out = SECCOMP_RET_TRACE | errno_ret; return 0;
  case SK_SCMP_ACT_ALLOW: *out = SECCOMP_RET_ALLOW; return 0;
  case SK_SCMP_ACT_LOG: *out = SECCOMP_RET_LOG; return 0;
  }
  return sk_error_set(err, 0, "seccomp: unknown action %d", (int)act);
}

/* ---- argument conditions ------------------------------------------------------------------ */

static uint32_t arg_lo(unsigned i) {
  return (uint32_t)(offsetof(struct seccomp_data, args) + 8 * i + (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 0 : 4));
}
static uint32_t arg_hi(unsigned i) {
  return (uint32_t)(offsetof(struct seccomp_data, args) + 8 * i + (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 4 : 0));
}
#define HI(v) ((uint32_t)((v) >> 32))
#define LO(v) ((uint32_t)(v))

/* One comparison on the low 32 bits: falls through when it holds, jumps to `fail` otherwise. */
static void cmp32(builder_t *b, const sk_scmp_arg_t *a, int fail) {
  load(b, arg_lo(a->index));
  switch (a->op) {
  case SK_SCMP_CMP_EQ: jump(b, BPF_JEQ, LO(a->value), LABEL_NEXT, fail); break;
  case SK_SCMP_CMP_NE: jump(b, BPF_JEQ, LO(a->value), fail, LABEL_NEXT); break;
  case SK_SCMP_CMP_GT: jump(b, BPF_JGT, LO(a->value), LABEL_NEXT, fail); break;
  case SK_SCMP_CMP_GE: jump(b, BPF_JGE, LO(a->value), LABEL_NEXT, fail); break;
  case SK_SCMP_CMP_LT: jump(b, BPF_JGE, LO(a->value), fail, LABEL_NEXT); break;
  case SK_SCMP_CMP_LE: jump(b, BPF_JGT, LO(a->value), fail, LABEL_NEXT); break;
  case SK_SCMP_CMP_MASKED_EQ:
    stmt(b, BPF_ALU | BPF_AND | BPF_K, LO(a->value));
    jump(b, BPF_JEQ, LO(a->value_two), LABEL_NEXT, fail);
    break;
  }
}

/* The ordering comparisons on 64 bits: decided by the high halves unless they are equal. */
static void cmp64_order(builder_t *b, const sk_scmp_arg_t *a, int fail, int pass) {
  bool greater = a->op == SK_SCMP_CMP_GT || a->op == SK_SCMP_CMP_GE;
  load(b, arg_hi(a->index));
  jump(b, BPF_JGT, HI(a->value), greater ? pass : fail, LABEL_NEXT);
  jump(b, BPF_JEQ, HI(a->value), LABEL_NEXT, greater ? fail : pass);
  load(b, arg_lo(a->index));
  switch (a->op) {
  case SK_SCMP_CMP_GT: jump(b, BPF_JGT, LO(a->value), LABEL_NEXT, fail); break;
  case SK_SCMP_CMP_GE: jump(b, BPF_JGE, LO(a->value), LABEL_NEXT, fail); break;
  case SK_SCMP_CMP_LT: jump(b, BPF_JGE, LO(a->value), fail, LABEL_NEXT); break;
  default: jump(b, BPF_JGT, LO(a->value), fail, LABEL_NEXT); break; /* LE */
  }
}

/* One comparison on all 64 bits, as two 32-bit halves. */
static void cmp64(builder_t *b, const sk_scmp_arg_t *a, int fail) {
  int pass = new_label(b);
  switch (a->op) {
  case SK_SCMP_CMP_EQ:
    load(b, arg_hi(a->index));
    jump(b, BPF_JEQ, HI(a->value), LABEL_NEXT, fail);
    load(b, arg_lo(a->index));
    jump(b, BPF_JEQ, LO(a->value), LABEL_NEXT, fail);
    break;
  case SK_SCMP_CMP_NE:
    load(b, arg_hi(a->index));
    jump(b, BPF_JEQ, HI(a->value), LABEL_NEXT, pass);
    load(b, arg_lo(a->index));
    jump(b, BPF_JEQ, LO(a->value), fail, LABEL_NEXT);
    break;
  case SK_SCMP_CMP_MASKED_EQ:
    load(b, arg_hi(a->index));
    stmt(b, BPF_ALU | BPF_AND | BPF_K, HI(a->value));
    jump(b, BPF_JEQ, HI(a->value_two), LABEL_NEXT, fail);
    load(b, arg_lo(a->index));
    stmt(b, BPF_ALU | BPF_AND | BPF_K, LO(a->value));
    jump(b, BPF_JEQ, LO(a->value_two), LABEL_NEXT, fail);
    break;
  default:
    cmp64_order(b, a, fail, pass);
    break;
  }
  bind(b, pass);
}

static int check_args(const sk_scmp_rule_t *r, sk_error_t *err) {
  for (size_t i = 0; i < r->n_args; i++) {
    if (r->args[i].index >= 6)
      return sk_error_set(err, 0, "seccomp: argument index %u out of range (0-5)", r->args[i].index);
    if (r->args[i].op < SK_SCMP_CMP_NE || r->args[i].op > SK_SCMP_CMP_MASKED_EQ)
      return sk_error_set(err, 0, "seccomp: unknown argument operator %d", (int)r->args[i].op);
  }
  return 0;
}

/* As runc: conditions of one rule must all hold, except that several conditions on the same
 * argument index (which libseccomp cannot AND) each form a rule of their own. */
static bool args_are_alternatives(const sk_scmp_rule_t *r) {
  unsigned seen = 0;
  for (size_t i = 0; i < r->n_args; i++) {
    if (seen & (1u << r->args[i].index))
      return true;
    seen |= 1u << r->args[i].index;
  }
  return false;
}

/* ---- rules -------------------------------------------------------------------------------- */

#define RUN_MAX 200 /* syscalls per `jeq … → ret` run, keeps those jumps under 256 */

static void emit_run(builder_t *b, const uint32_t *nrs, size_t n, uint32_t action) {
  int hit = new_label(b), miss = new_label(b);
  for (size_t j = 0; j < n; j++)
    jump(b, BPF_JEQ, nrs[j], hit, j + 1 == n ? miss : LABEL_NEXT);
  bind(b, hit);
  ret(b, action);
  bind(b, miss);
}

/* A rule without conditions: runs of `jeq` to one shared `ret`. */
static void emit_plain_rule(builder_t *b, const arch_table_t *t, const sk_scmp_rule_t *r, uint32_t action) {
  uint32_t nrs[RUN_MAX];
  size_t n = 0;
  for (size_t i = 0; r->names[i] != NULL; i++) {
    if (!syscall_nr(t, r->names[i], &nrs[n]))
      continue; /* not a syscall of this architecture: skipped, as runc does */
    if (++n == RUN_MAX) {
      emit_run(b, nrs, n, action);
      n = 0;
    }
  }
  if (n > 0)
    emit_run(b, nrs, n, action);
}

/* One syscall with one group of conditions (all must hold). Expects nr in A; leaves nr in A. */
static void emit_conditional(builder_t *b, const arch_table_t *t, uint32_t nr, const sk_scmp_arg_t *args, size_t n,
                             uint32_t action) {
  int skip = new_label(b), fail = new_label(b);
  jump(b, BPF_JEQ, nr, LABEL_NEXT, skip);
  for (size_t i = 0; i < n; i++) {
    if (t->args64)
      cmp64(b, &args[i], fail);
    else
      cmp32(b, &args[i], fail);
  }
  ret(b, action);
  bind(b, fail);
  load(b, offsetof(struct seccomp_data, nr));
  bind(b, skip);
}

static int emit_rules(builder_t *b, const arch_table_t *t, const sk_seccomp_t *sc, sk_error_t *err) {
  for (size_t i = 0; i < sc->n_rules; i++) {
    const sk_scmp_rule_t *r = &sc->rules[i];
    uint32_t action;
    if (action_value(r->action, r->errno_ret, &action, err) < 0 || check_args(r, err) < 0)
      return -1;
    if (r->names == NULL)
      continue;
    if (r->n_args == 0) {
      emit_plain_rule(b, t, r, action);
      continue;
    }
    bool alternatives = args_are_alternatives(r);
    for (size_t j = 0; r->names[j] != NULL; j++) {
      uint32_t nr;
      if (!syscall_nr(t, r->names[j], &nr))
        continue; /* not a syscall of this architecture: skipped, as runc does */
      if (!alternatives)
        emit_conditional(b, t, nr, r->args, r->n_args, action);
      else
        for (size_t k = 0; k < r->n_args; k++)
          emit_conditional(b, t, nr, &r->args[k], 1, action);
    }
  }
  return 0;
}

/* ld [nr]; rules; ret default. */
static int emit_section(builder_t *b, const arch_table_t *t, const sk_seccomp_t *sc, uint32_t dflt, sk_error_t *err) {
  if (emit_rules(b, t, sc, err) < 0)
    return -1;
  ret(b, dflt);
  return 0;
}

static int emit_x86_64_family(builder_t *b, unsigned archs, int start, const sk_seccomp_t *sc, uint32_t dflt,
                              sk_error_t *err) {
  int x32 = new_label(b);
  bind(b, start);
  load(b, offsetof(struct seccomp_data, nr));
  jump(b, BPF_JGE, __X32_SYSCALL_BIT, x32, LABEL_NEXT);
  if (archs & ARCH_X86_64) {
    if (emit_section(b, &TABLE(sk_syscalls_x86_64, true), sc, dflt, err) < 0)
      return -1;
  } else {
    ret(b, SECCOMP_RET_KILL_PROCESS); /* only x32 listed */
  }
  bind(b, x32);
  if (!(archs & ARCH_X32)) {
    ret(b, SECCOMP_RET_KILL_PROCESS);
    return 0;
  }
  return emit_section(b, &TABLE(sk_syscalls_x32, true), sc, dflt, err);
}

static int emit_plain_family(builder_t *b, int label, const arch_table_t *t, const sk_seccomp_t *sc, uint32_t dflt,
                             sk_error_t *err) {
  bind(b, label);
  load(b, offsetof(struct seccomp_data, nr));
  return emit_section(b, t, sc, dflt, err);
}

static int emit_program(builder_t *b, unsigned archs, const sk_seccomp_t *sc, uint32_t dflt, sk_error_t *err) {
  int x86_64 = new_label(b), i386 = new_label(b), aarch64 = new_label(b);
  /* Dispatch on the architecture; anything unlisted is killed. */
  load(b, offsetof(struct seccomp_data, arch));
  if (archs & (ARCH_X86_64 | ARCH_X32))
    jump(b, BPF_JEQ, AUDIT_ARCH_X86_64, x86_64, LABEL_NEXT);
  if (archs & ARCH_I386)
    jump(b, BPF_JEQ, AUDIT_ARCH_I386, i386, LABEL_NEXT);
  if (archs & ARCH_AARCH64)
    jump(b, BPF_JEQ, AUDIT_ARCH_AARCH64, aarch64, LABEL_NEXT);
  ret(b, SECCOMP_RET_KILL_PROCESS);
  /* One section per architecture family (a label left unbound is never jumped to). */
  if ((archs & (ARCH_X86_64 | ARCH_X32)) && emit_x86_64_family(b, archs, x86_64, sc, dflt, err) < 0)
    return -1;
  if ((archs & ARCH_I386) && emit_plain_family(b, i386, &TABLE(sk_syscalls_i386, false), sc, dflt, err) < 0)
    return -1;
  if ((archs & ARCH_AARCH64) && emit_plain_family(b, aarch64, &TABLE(sk_syscalls_aarch64, true), sc, dflt, err) < 0)
    return -1;
  return 0;
}

int seccomp_compile(const sk_seccomp_t *sc, struct sock_fprog *prog, sk_error_t *err) {
  unsigned archs;
  uint32_t dflt;
  if (parse_archs(sc->architectures, &archs, err) < 0 || action_value(sc->default_action, sc->default_errno_ret, &dflt, err) < 0)
    return -1;
  builder_t b = {0};
  int r = emit_program(&b, archs, sc, dflt, err);
  if (r == 0)
    r = builder_finish(&b, prog, err);
  builder_free(&b);
  return r;
}

int seccomp_load(const struct sock_fprog *prog, sk_error_t *err) {
  /* TSYNC puts every thread of the process under the filter; the container's init is single
   * threaded, but a filter that silently missed a thread would be worse than an error. */
  long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, prog);
  if (r == 0)
    return 0;
  if (r > 0)
    return sk_error_set(err, 0, "seccomp: thread %ld could not be synchronised to the filter", r);
  if (errno != ENOSYS && errno != EINVAL)
    return sk_error_errno(err, "seccomp(SECCOMP_SET_MODE_FILTER)");
  /* Kernels without seccomp(2) or without TSYNC. */
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog, 0, 0) < 0)
    return sk_error_errno(err, "prctl(PR_SET_SECCOMP)");
  return 0;
}
