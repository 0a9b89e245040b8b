/* config.json parsed into plain structs (parse, then execute — after bubblewrap). spec.c parses
 * and validates the whole supported subset of the OCI runtime-spec; anything outside it is
 * refused with an error naming the field. Nothing here touches the system. */
#ifndef SK_CONFIG_H
#define SK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "error.h"
#include "resources.h"
#include "seccomp.h"
#include "state.h" /* sk_annotation_t */

typedef enum {
  SK_MOUNT_BIND = 1, /* type "bind" or "none" with a bind/rbind option */
  SK_MOUNT_PROC,
  SK_MOUNT_TMPFS,
  SK_MOUNT_DEVPTS,
  SK_MOUNT_MQUEUE,
  SK_MOUNT_SYSFS,
  SK_MOUNT_CGROUP,   /* "cgroup" or "cgroup2": the container's own cgroup view */
} sk_mount_kind_t;

typedef struct sk_mount {
  sk_mount_kind_t kind;
  char *destination;         /* absolute path inside the container */
  char *type;                /* as written in config.json */
  char *source;              /* bind: absolute host path (relative ones resolved against the bundle) */
  unsigned long flags;       /* MS_RDONLY, MS_NOSUID, … to set */
  unsigned long clear_flags; /* … to clear on a bind mount ("rw", "suid", "dev", "exec", …) */
  unsigned long propagation; /* MS_PRIVATE/MS_SLAVE/MS_SHARED/MS_UNBINDABLE [| MS_REC], 0 = none */
  bool recursive;            /* rbind */
  char *data;                /* filesystem options (size=, mode=, newinstance, …), NULL if none */
} sk_mount_t;

typedef struct sk_namespace {
  int type;   /* CLONE_NEWPID, CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWUSER */
  char *path; /* join this existing namespace (setns) instead of creating one; NULL = new */
} sk_namespace_t;

typedef struct sk_id_map {
  uint32_t container_id, host_id, size;
} sk_id_map_t;

typedef struct sk_rlimit {
  int resource; /* RLIMIT_* */
  uint64_t soft, hard;
} sk_rlimit_t;

/* Capability sets as bitmasks of CAP_* numbers. */
typedef struct sk_caps {
  uint64_t bounding, effective, inheritable, permitted, ambient;
} sk_caps_t;

typedef struct sk_process {
  char **args;         /* NULL-terminated, at least one */
  char **env;          /* NULL-terminated, may be empty */
  char *cwd;           /* absolute */
  uid_t uid;
  gid_t gid;
  gid_t *additional_gids;
  size_t n_additional_gids;
  sk_caps_t caps;
  bool no_new_privileges;
  sk_rlimit_t *rlimits;
  size_t n_rlimits;
  bool has_oom_score_adj;
  int oom_score_adj;
  bool has_umask;
  mode_t umask;
} sk_process_t;

typedef struct sk_overlay {
  char *lowerdirs; /* sandkasten.dev/overlay.lowerdirs: colon-separated, top layer first; NULL = no overlay */
  char *upperdir;  /* sandkasten.dev/overlay.upperdir (NULL = read-only overlay) */
  char *workdir;   /* sandkasten.dev/overlay.workdir (required with upperdir) */
} sk_overlay_t;

#define SK_MAX_NAMESPACES 8

typedef struct sk_config {
  char *oci_version;
  char *bundle;                /* absolute */
  sk_process_t process;
  char *root_path;             /* absolute (relative root.path resolved against the bundle) */
  bool root_readonly;
  char *hostname;              /* NULL = keep */
  char *domainname;            /* NULL = keep */
  sk_mount_t *mounts;
  size_t n_mounts;
  sk_namespace_t namespaces[SK_MAX_NAMESPACES];
  size_t n_namespaces;
  int clone_flags;             /* CLONE_NEW* of the namespaces to create (not joined ones) */
  sk_id_map_t *uid_mappings, *gid_mappings;
  size_t n_uid_mappings, n_gid_mappings;
  bool has_resources;
  sk_resources_t resources;    /* linux.resources */
  char *cgroups_path;          /* linux.cgroupsPath; NULL = default "/sandkasten/<id>" */
  bool has_seccomp;
  sk_seccomp_t seccomp;        /* linux.seccomp */
  char **masked_paths;         /* NULL-terminated */
  char **readonly_paths;       /* NULL-terminated */
  sk_annotation_t *annotations;
  size_t n_annotations;
  sk_overlay_t overlay;        /* from the sandkasten.dev/overlay.* annotations */
} sk_config_t;

/* Reads <bundle>/config.json and parses + validates it. */
int config_load(const char *bundle, sk_config_t *cfg, sk_error_t *err);
/* Parses a config.json document already in memory (bundle = absolute bundle dir). */
int config_parse(const char *json, size_t len, const char *bundle, sk_config_t *cfg, sk_error_t *err);
/* Parses a standalone process.json (`exec --process`). */
int config_parse_process_json(const char *json, size_t len, sk_process_t *proc, sk_error_t *err);
void config_free(sk_config_t *cfg);
void config_free_process(sk_process_t *proc);

#endif
