/* A minimal TAP producer for the C test drivers: `ok N - name`, `not ok N - name: why`,
 * `ok N - name # SKIP why`, then the plan. The TypeScript tests read these lines. */
#ifndef SK_TAP_H
#define SK_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static int tap_n, tap_failed;

__attribute__((format(printf, 3, 4))) static inline bool tap_check(bool cond, const char *name, const char *fmt, ...) {
  tap_n++;
  if (cond) {
    printf("ok %d - %s\n", tap_n, name);
  } else {
    tap_failed++;
    printf("not ok %d - %s: ", tap_n, name);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
  }
  fflush(stdout);
  return cond;
}

static inline void tap_skip(const char *name, const char *why) {
  printf("ok %d - %s # SKIP %s\n", ++tap_n, name, why);
  fflush(stdout);
}

/* Free-form diagnostics (figures), ignored by TAP consumers. */
__attribute__((format(printf, 1, 2))) static inline void tap_note(const char *fmt, ...) {
  printf("# ");
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  fflush(stdout);
}

static inline int tap_done(void) {
  printf("1..%d\n", tap_n);
  return tap_failed ? 1 : 0;
}

#endif
