// Where a sandbox's things live on the host. Everything external is named from the Session's uid,
// so a reconciler that finds a thing already there adopts it instead of making a second one.

import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface SessionPaths {
  /** data_dir/sessions/<uid> */
  dir: string;
  /** The OCI bundle directory (= dir). */
  bundle: string;
  /** dir/config.json */
  config: string;
  /** The overlay's upper layer: everything the session writes outside /workspace. */
  upper: string;
  /** The overlay's work directory. */
  work: string;
  /** The (empty) mount point the overlay is mounted on: root.path. */
  rootfs: string;
  /** Bind-mounted at /run/sandkasten inside; holds the runner's socket. */
  run: string;
  /** The runner's socket as the host sees it. */
  socket: string;
  /** The ephemeral workspace of a session without a Workspace. */
  workspace: string;
  /** The runner's stdout/stderr (node-agent hands the container its stdio). */
  log: string;
}

/** Where the runner's socket is inside the sandbox. */
export const SANDBOX_RUN_DIR = '/run/sandkasten';
export const SANDBOX_SOCKET = `${SANDBOX_RUN_DIR}/runner.sock`;
/** Where the runner binary is bind-mounted (read-only) inside the sandbox. */
export const SANDBOX_RUNNER = '/.sandkasten/runner';

export function sessionsDir(dataDir: string): string {
  return join(dataDir, 'sessions');
}

export function sessionPaths(dataDir: string, uid: string): SessionPaths {
  if (!/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(uid)) throw new Error(`invalid session uid ${JSON.stringify(uid)}`);
  const dir = join(sessionsDir(dataDir), uid);
  const run = join(dir, 'run');
  return {
    dir,
    bundle: dir,
    config: join(dir, 'config.json'),
    upper: join(dir, 'upper'),
    work: join(dir, 'work'),
    rootfs: join(dir, 'rootfs'),
    run,
    socket: join(run, 'runner.sock'),
    workspace: join(dir, 'workspace'),
    log: join(dir, 'runner.log'),
  };
}

/** A Workspace's data directory: data_dir/workspaces/<namespace>/<name>. */
export function workspacePath(dataDir: string, namespace: string, name: string): string {
  const label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
  if (!label.test(namespace)) throw new Error(`invalid namespace ${JSON.stringify(namespace)}`);
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)) throw new Error(`invalid workspace name ${JSON.stringify(name)}`);
  return join(dataDir, 'workspaces', namespace, name);
}

/**
 * node-agent's state root for this data_dir: /run/sandkasten/<12 hex of sha256(realpath(data_dir))>,
 * so daemons (and tests) with different data dirs never see each other's sandboxes.
 */
export function agentRoot(dataDir: string): string {
  let real: string;
  try {
    real = realpathSync(dataDir);
  } catch {
    real = resolve(dataDir);
  }
  return join('/run/sandkasten', createHash('sha256').update(real).digest('hex').slice(0, 12));
}

const CONTAINER_PREFIX = 'sk-';

/** The node-agent container id of a session. */
export function containerId(uid: string): string {
  return CONTAINER_PREFIX + uid;
}

/** The session uid a container id names, or undefined when the id is not one of ours. */
export function uidOfContainer(id: string): string | undefined {
  return id.startsWith(CONTAINER_PREFIX) && id.length > CONTAINER_PREFIX.length ? id.slice(CONTAINER_PREFIX.length) : undefined;
}

/** The cgroup path (relative to each hierarchy's root) of a session's sandbox. */
export function cgroupPath(uid: string): string {
  return `/sandkasten/${containerId(uid)}`;
}
