/* One error convention (after crun): a function that can fail takes `sk_error_t *err` last and
 * returns < 0. The error is made at the failing call, with errno and the object's name; callers
 * pass it up unchanged. The runner turns it into an ERROR frame ({code, errno, message}); only
 * main prints one. `code` names failures that have no errno (BUSY, BAD_REQUEST, …). */
#ifndef SK_ERROR_H
#define SK_ERROR_H

#include <errno.h>

typedef struct sk_error {
  int errno_;       /* 0 when the failure has no errno (bad input) */
  const char *code; /* static string, or NULL: then the errno's name is the code */
  char msg[1024];   /* "step: detail" */
} sk_error_t;

/* Sets *err from the current errno and a printf-style message; returns -1. */
int sk_error_errno(sk_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sets *err with an explicit errno (0 for none); returns -1. */
int sk_error_set(sk_error_t *err, int errno_, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Sets *err with a protocol-level code (no errno); returns -1. */
int sk_error_code(sk_error_t *err, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefixes the message with more context ("create: " + msg); returns -1. */
int sk_error_wrap(sk_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The code an error is reported with: err->code, else the errno's name ("ENOENT"). */
const char *sk_error_code_name(const sk_error_t *err);

#endif
