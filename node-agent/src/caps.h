/* Capability names and the one function that gives up privileges. */
#ifndef SK_CAPS_H
#define SK_CAPS_H

#include "config.h"

/* "CAP_SYS_ADMIN" -> 21; -1 if unknown. */
int cap_from_name(const char *name);
/* The highest capability the running kernel knows (/proc/sys/kernel/cap_last_cap). */
int cap_last_cap(sk_error_t *err);
/* drop_privileges: no_new_privs, bounding set, supplementary groups, gid, uid, then the
 * effective/permitted/inheritable and ambient sets — in that order, because each step needs the
 * privilege the next one removes. Called in the container process before it waits for `start`. */
int drop_privileges(const sk_process_t *p, int last_cap, sk_error_t *err);

#endif
