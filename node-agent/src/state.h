/* A container's persisted state: <root>/<id>/state.json (plus exec.fifo while created, not
 * started). Written once by `create`/`run`, read by every other command. The status is not
 * stored: it is derived on load from the init process (checked against its recorded start time,
 * so a reused pid is never mistaken for the container) and the presence of exec.fifo. */
#ifndef SK_STATE_H
#define SK_STATE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>
#include "error.h"
#include "resources.h"

typedef enum {
  SK_STATUS_CREATING = 0, /* state dir exists but create has not finished (or crashed) */
  SK_STATUS_CREATED,      /* init is waiting on exec.fifo */
  SK_STATUS_RUNNING,
  SK_STATUS_STOPPED,
} sk_status_t;

typedef struct sk_annotation {
  char *key;
  char *value;
} sk_annotation_t;

typedef struct sk_state {
  char id[256];
  char dir[PATH_MAX];         /* <root>/<id> */
  char bundle[PATH_MAX];      /* absolute */
  pid_t pid;                  /* init, in the host's pid namespace; 0 if none yet */
  unsigned long long start_time; /* /proc/<pid>/stat field 22, guards against pid reuse */
  bool has_cgroup;
  sk_cgroup_t cgroup;         /* mode + path relative to each hierarchy's root */
  char created[64];           /* RFC 3339, UTC */
  sk_annotation_t *annotations;
  size_t n_annotations;
  sk_status_t status;         /* derived by state_load / state_refresh */
} sk_state_t;

/* Valid ids: 1..255 chars of [A-Za-z0-9_.-], not starting with '.'. */
int state_check_id(const char *id, sk_error_t *err);
/* Loads <root>/<id>/state.json and derives status. Unknown id: errno ENOENT,
 * message "container `ID` does not exist". */
int state_load(const char *root, const char *id, sk_state_t *st, sk_error_t *err);
/* Re-derives st->status from the live system. */
void state_refresh(sk_state_t *st);
/* Atomically writes state.json (write to a temp file + rename). */
int state_save(const sk_state_t *st, sk_error_t *err);
/* Removes the state directory and everything in it. Absent = ok. */
int state_remove(const sk_state_t *st, sk_error_t *err);
const char *state_status_name(sk_status_t s);
/* Frees the annotations (the struct itself is the caller's). */
void state_free(sk_state_t *st);
/* Prints the runtime-spec state object (ociVersion, id, status, pid, bundle, annotations,
 * created) without a trailing newline; with oom_kills >= 0 also "oomKills" (an extension: how
 * many processes the OOM killer took in the container's cgroup). */
void state_print_json(FILE *f, const sk_state_t *st, long long oom_kills);
/* Takes an exclusive flock on the state directory (released when the fd is closed) so that
 * start/kill/delete of one container do not interleave. */
int state_lock(const sk_state_t *st, sk_error_t *err);
/* Start time (field 22 of /proc/<pid>/stat); < 0 if the process is gone. *zombie set if it is one. */
int state_proc_start_time(pid_t pid, unsigned long long *start_time, bool *zombie);

#endif
