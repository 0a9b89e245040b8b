/* setup_namespaces: join the namespaces given by path, wait for the uid/gid maps, new session,
 * hostname; and the late cgroup-namespace step. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include "linux.h"
#include "sync.h"
#include "util.h"

int join_namespaces(const sk_config_t *cfg, int only_type, sk_error_t *err) {
  for (size_t i = 0; i < cfg->n_namespaces; i++) {
    const sk_namespace_t *ns = &cfg->namespaces[i];
    if (ns->path == NULL || (only_type != 0 && ns->type != only_type) || (only_type == 0 && ns->type == CLONE_NEWPID))
      continue;
    cleanup_close int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return sk_error_errno(err, "setup_namespaces: open `%s`", ns->path);
    if (setns(fd, ns->type) < 0)
      return sk_error_errno(err, "setup_namespaces: setns `%s`", ns->path);
  }
  return 0;
}

int setup_namespaces(sk_init_ctx_t *ctx, sk_error_t *err) {
  const sk_config_t *cfg = ctx->cfg;
  /* In a new user namespace we are nobody until the parent has written the maps. */
  if ((cfg->clone_flags & CLONE_NEWUSER) && sync_expect(ctx->sync_fd, SK_SYNC_MAPS_DONE, "setup_namespaces", NULL, err) < 0)
    return -1;
  if ((cfg->clone_flags & CLONE_NEWUSER) && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
    return sk_error_errno(err, "setup_namespaces: become root in the user namespace");
  if (join_namespaces(cfg, 0, err) < 0)
    return -1;
  /* Our own session: the caller's terminal and process-group signals must not reach us. */
  if (setsid() < 0)
    return sk_error_errno(err, "setup_namespaces: setsid");
  if (cfg->hostname != NULL && sethostname(cfg->hostname, strlen(cfg->hostname)) < 0)
    return sk_error_errno(err, "setup_namespaces: sethostname `%s`", cfg->hostname);
  if (cfg->domainname != NULL && setdomainname(cfg->domainname, strlen(cfg->domainname)) < 0)
    return sk_error_errno(err, "setup_namespaces: setdomainname `%s`", cfg->domainname);
  return 0;
}

int enter_cgroup(sk_init_ctx_t *ctx, sk_error_t *err) {
  if (ctx->cgroup_joined)
    return 0;
  if (sync_expect(ctx->sync_fd, SK_SYNC_CGROUP_DONE, "setup_cgroups", NULL, err) < 0)
    return -1;
  ctx->cgroup_joined = true;
  if ((ctx->cfg->clone_flags & CLONE_NEWCGROUP) && unshare(CLONE_NEWCGROUP) < 0)
    return sk_error_errno(err, "setup_cgroups: unshare the cgroup namespace");
  return 0;
}
