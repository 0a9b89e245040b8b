// The Workspace reconciler. A Workspace is a host directory, data_dir/workspaces/<namespace>/<name>,
// that outlives the sessions mounting it. The reconciler makes the directory, reports its size and
// the Sessions using it, and on deletion waits (behind the finalizer) until no Session uses it, then
// removes the data (reclaimPolicy Delete) or leaves it on the node (Retain).
//
// Ownership of a new directory: uid/gid 1000 (the `sandbox` user every image offers), mode 0755 —
// the same as the image's own /workspace mount point, so the sandbox user can write, and root in
// the sandbox writes through CAP_DAC_OVERRIDE, which sessions keep. Not 0777: other users in the
// sandbox (nobody, daemons) have no business there. An existing directory (data retained from an
// earlier Workspace of the same name, or a restart) is adopted as it is, never re-chowned.
//
// "Used by" means: a Session object in the same namespace whose spec.workspace names the workspace,
// whatever its phase — a Terminating session still has it mounted until its finalizer has removed
// the sandbox, and then its object goes away.

import { mkdir, chmod, chown, lstat, rename, rm, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  formatBytes,
  parseQuantity,
  sessionWorkspaceMount,
  type Condition,
  type Session,
  type Workspace,
  type WorkspaceStatus,
} from '@sandkasten/api-schemas';
import type { ResolvedConfig } from '@sandkasten/api-schemas';
import { isAlreadyExists, isNotFound, type Client } from '../client/index.js';
import type { EventRecorder } from '../events/index.js';
import { SANDBOX_GID, SANDBOX_UID } from '../images/builtin.js';
import type { Controller, Manager, ReconcileContext, ReconcileResult, RuntimeObject } from '../runtime/index.js';
import { errorMessage, silentLogger, splitKey, type Logger } from '../runtime/index.js';
import { workspacePath } from '../sandbox/paths.js';
import { SizeTracker } from './workspace-size.js';

export const WORKSPACE_FINALIZER = 'sandkasten.dev/workspace';
/** Owner and mode of a newly made workspace directory (see the top of this file). */
export const WORKSPACE_DIR_UID = SANDBOX_UID;
export const WORKSPACE_DIR_GID = SANDBOX_GID;
export const WORKSPACE_DIR_MODE = 0o755;
/** data_dir/workspaces and its per-namespace directories: traversable, not listable, by others. */
const PARENT_MODE = 0o711;
/** Deleted workspaces are renamed here, then removed in the background ("." keeps it apart from namespaces). */
const TRASH = '.trash';
/** The longest a requeue waits; also bounds what a wall-clock jump can delay. */
const MAX_REQUEUE_MS = 3_600_000;

export interface WorkspaceControllerOptions {
  client: Client;
  /** The controller is added to it (before start); it shares the manager's sessions informer. */
  manager: Manager;
  dataDir: string;
  /** Not read today (workspace.* keys concern sessions); accepted for a uniform wiring. */
  config?: ResolvedConfig;
  recorder?: EventRecorder;
  logger?: Logger;
  /** Concurrent reconciles (default 2: a deletion's rename must not hold up the rest). */
  workers?: number;
  /** Size refresh of workspaces in use / unused, time budget of one measurement, du program. */
  size?: { boundIntervalMs?: number; idleIntervalMs?: number; timeoutMs?: number; du?: string };
}

/** The names of the Sessions in `namespace` whose spec.workspace names `name`, sorted. */
export function workspaceUsers(sessions: readonly RuntimeObject[], namespace: string, name: string): string[] {
  const out: string[] = [];
  for (const s of sessions) {
    if ((s.metadata.namespace ?? '') !== namespace) continue;
    if (sessionWorkspaceMount((s as unknown as Session).spec)?.name === name) out.push(s.metadata.name);
  }
  return out.sort();
}

/** The workspace key (`namespace/name`) a Session maps to, for the secondary watch. */
export function sessionWorkspaceKeys(obj: RuntimeObject): string[] {
  const ws = sessionWorkspaceMount((obj as unknown as Session).spec);
  return ws ? [`${obj.metadata.namespace ?? ''}/${ws.name}`] : [];
}

/**
 * Registers the Workspace controller with `manager` (call before manager.start()) and returns it.
 * It reconciles `workspaces` and watches `sessions` (mapped to the workspaces they name).
 */
export function workspaceController(options: WorkspaceControllerOptions): Controller {
  const log = options.logger ?? silentLogger;
  const sessions = options.manager.informer('sessions');
  let controller: Controller | undefined;
  const sizes = new SizeTracker({
    onMeasured: (key) => controller?.queue.add(key),
    logger: log,
    ...options.size,
  });
  const r = new WorkspaceReconciler(options, sizes, () => sessions.list());
  controller = options.manager.addController({
    name: 'workspace',
    for: 'workspaces',
    watches: [{ resource: 'sessions', map: sessionWorkspaceKeys }],
    reconciler: r,
    workers: options.workers ?? 2,
  });
  // Leftovers of deletions a crash interrupted.
  void emptyTrash(options.dataDir, log);
  return controller;
}

class WorkspaceReconciler {
  readonly #client: Client;
  readonly #dataDir: string;
  readonly #recorder: EventRecorder | undefined;
  readonly #sizes: SizeTracker;
  readonly #sessions: () => RuntimeObject[];
  readonly #log: Logger;

  constructor(options: WorkspaceControllerOptions, sizes: SizeTracker, sessions: () => RuntimeObject[]) {
    this.#client = options.client;
    this.#dataDir = options.dataDir;
    this.#recorder = options.recorder;
    this.#sizes = sizes;
    this.#sessions = sessions;
    this.#log = options.logger ?? silentLogger;
  }

  async reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileResult | void> {
    const { namespace, name } = splitKey(key);
    let ws = ctx.object as Workspace | undefined;
    if (ws === undefined) {
      this.#sizes.forget(key);
      return;
    }
    const users = workspaceUsers(this.#sessions(), namespace, name);
    if (ws.metadata.deletionTimestamp) return this.#finalize(key, ws, users, ctx);

    if (!(ws.metadata.finalizers ?? []).includes(WORKSPACE_FINALIZER)) {
      // Before the directory exists: no data can be made that a deletion would not clean up.
      ws = await this.#client.addFinalizer('workspaces', namespace, name, WORKSPACE_FINALIZER);
    }

    const dir = workspacePath(this.#dataDir, namespace, name);
    let made: 'created' | 'existed';
    try {
      made = await ensureWorkspaceDir(this.#dataDir, namespace, name);
    } catch (err) {
      const message = `cannot make the workspace directory: ${errorMessage(err)}`;
      await this.#writeStatus(ws, failedStatus(ws, message));
      this.#recorder?.event(ws, 'Warning', 'ProvisioningFailed', message);
      throw err; // retried with backoff: the host may be fixed meanwhile
    }
    const firstSight = !ws.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    if (made === 'created') {
      ctx.log.info(`created ${dir}`);
      this.#recorder?.event(ws, 'Normal', 'Provisioned', 'created the workspace directory');
    } else if (firstSight) {
      this.#recorder?.event(ws, 'Normal', 'Adopted', 'found data of an earlier workspace of this name on the node; using it');
    }

    const size = this.#sizes.observe(key, ws.metadata.uid ?? '', dir, users, ctx.signal);
    const status = readyStatus(ws, users, size.bytes);
    const over = status.conditions?.find((c) => c.type === 'SizeLimitExceeded');
    const wasOver = ws.status?.conditions?.some((c) => c.type === 'SizeLimitExceeded' && c.status === 'True');
    if (over?.status === 'True' && !wasOver) this.#recorder?.event(ws, 'Warning', 'SizeLimitExceeded', over.message ?? '');
    await this.#writeStatus(ws, status);
    return size.nextInMs === undefined ? undefined : { requeueAfterMs: Math.min(size.nextInMs, MAX_REQUEUE_MS) };
  }

  /** Deletion: wait for the sessions, reclaim the data, let the object go. */
  async #finalize(key: string, ws: Workspace, users: string[], ctx: ReconcileContext): Promise<void> {
    const { namespace, name } = splitKey(key);
    if (!(ws.metadata.finalizers ?? []).includes(WORKSPACE_FINALIZER)) return;
    if (users.length > 0) {
      const message = `in use by ${users.length === 1 ? 'session' : 'sessions'} ${users.join(', ')}; deletion waits until ${users.length === 1 ? 'it is' : 'they are'} gone`;
      const wasWaiting = ws.status?.phase === 'Terminating' && ws.status.reason === 'InUse';
      await this.#writeStatus(ws, terminatingStatus(ws, users, message));
      if (!wasWaiting) this.#recorder?.event(ws, 'Normal', 'WaitingForSessions', message);
      ctx.log.info(`deletion waits for ${users.join(', ')}`);
      return; // the sessions watch brings this key back when one goes
    }
    const policy = ws.spec?.reclaimPolicy ?? 'Retain';
    const rel = join('workspaces', namespace, name);
    if (policy === 'Delete') {
      await removeWorkspaceDir(this.#dataDir, namespace, name, ws.metadata.uid ?? randomBytes(8).toString('hex'), this.#log);
      ctx.log.info(`reclaimPolicy Delete: removed ${rel}`);
      this.#recorder?.event(ws, 'Normal', 'DataDeleted', 'the workspace data was deleted (reclaimPolicy Delete)');
    } else {
      ctx.log.info(`reclaimPolicy Retain: data kept at ${workspacePath(this.#dataDir, namespace, name)}`);
      this.#recorder?.event(
        ws,
        'Normal',
        'DataRetained',
        `the workspace data stays on the node at ${rel} under data_dir (reclaimPolicy Retain); a new Workspace of this name uses it again`,
      );
    }
    this.#sizes.forget(key);
    await this.#client.removeFinalizer('workspaces', namespace, name, WORKSPACE_FINALIZER);
  }

  /** Writes `status` when it differs from the stored one (a conflict retries the reconcile). */
  async #writeStatus(ws: Workspace, status: WorkspaceStatus): Promise<void> {
    if (sameJson(ws.status, status)) return;
    const next = { ...ws, status } as Workspace;
    try {
      await this.#client.updateStatus('workspaces', next);
    } catch (err) {
      if (isNotFound(err)) return; // gone meanwhile: nothing left to report on
      throw err;
    }
  }
}

// ---------- status ----------

/** `next` with condition `c` set: lastTransitionTime moves only when the status flips. */
function withCondition(prev: readonly Condition[] | undefined, c: Omit<Condition, 'lastTransitionTime'>): Condition[] {
  const list = (prev ?? []).filter((x) => x.type !== c.type);
  const old = prev?.find((x) => x.type === c.type);
  const lastTransitionTime = old && old.status === c.status && old.lastTransitionTime ? old.lastTransitionTime : new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  list.push({ ...c, lastTransitionTime });
  return list.sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
}

function readyStatus(ws: Workspace, users: string[], bytes: number | undefined): WorkspaceStatus {
  const gen = ws.metadata.generation ?? 1;
  const bound = users.length > 0;
  let conditions = withCondition(ws.status?.conditions, {
    type: 'Ready',
    status: 'True',
    reason: bound ? 'Bound' : 'Available',
    message: bound ? `mounted by ${users.join(', ')}` : 'no session uses it',
    observedGeneration: gen,
  });
  conditions = sizeLimitCondition(ws, conditions, bytes, gen);
  const status: WorkspaceStatus = {
    phase: bound ? 'Bound' : 'Available',
    conditions,
    observedGeneration: gen,
    sessions: users,
  };
  const size = bytes ?? ws.status?.sizeBytes;
  if (size !== undefined) status.sizeBytes = size;
  return status;
}

/** Reported, not enforced: the node has no per-directory quota to enforce it with. */
function sizeLimitCondition(ws: Workspace, conditions: Condition[], bytes: number | undefined, gen: number): Condition[] {
  const limit = ws.spec?.sizeLimit;
  if (limit === undefined) return conditions.filter((c) => c.type !== 'SizeLimitExceeded');
  const size = bytes ?? ws.status?.sizeBytes;
  if (size === undefined) return conditions;
  let max: number;
  try {
    max = parseQuantity(limit);
  } catch {
    return conditions; // the API server validated it; nothing sensible to report otherwise
  }
  const over = size > max;
  return withCondition(conditions, {
    type: 'SizeLimitExceeded',
    status: over ? 'True' : 'False',
    reason: over ? 'OverLimit' : 'WithinLimit',
    message: `uses ${formatBytes(size)} of ${formatBytes(max)} (the limit is reported, not enforced)`,
    observedGeneration: gen,
  });
}

function terminatingStatus(ws: Workspace, users: string[], message: string): WorkspaceStatus {
  const gen = ws.metadata.generation ?? 1;
  const status: WorkspaceStatus = {
    ...ws.status,
    phase: 'Terminating',
    reason: 'InUse',
    message,
    sessions: users,
    observedGeneration: gen,
    conditions: withCondition(ws.status?.conditions, { type: 'Ready', status: 'False', reason: 'InUse', message, observedGeneration: gen }),
  };
  return status;
}

function failedStatus(ws: Workspace, message: string): WorkspaceStatus {
  const gen = ws.metadata.generation ?? 1;
  return {
    ...ws.status,
    phase: 'Failed',
    reason: 'ProvisioningFailed',
    message,
    observedGeneration: gen,
    conditions: withCondition(ws.status?.conditions, { type: 'Ready', status: 'False', reason: 'ProvisioningFailed', message, observedGeneration: gen }),
  };
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

// ---------- the directory ----------

async function mkdirOwned(path: string, mode: number, uid: number, gid: number): Promise<boolean> {
  try {
    await mkdir(path, { mode });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const st = await lstat(path);
    if (!st.isDirectory()) throw new Error(`${path} exists and is not a directory`);
    return false;
  }
  await chmod(path, mode); // mkdir's mode went through the umask
  if (process.getuid?.() === 0) await chown(path, uid, gid);
  return true;
}

/**
 * Makes data_dir/workspaces/<namespace>/<name> (parents root-owned 0711, the directory itself
 * 1000:1000 0755) unless it exists; an existing one must be a real directory, not a symlink.
 */
export async function ensureWorkspaceDir(dataDir: string, namespace: string, name: string): Promise<'created' | 'existed'> {
  const dir = workspacePath(dataDir, namespace, name);
  const root = join(dataDir, 'workspaces');
  await mkdirOwned(root, PARENT_MODE, 0, 0);
  await mkdirOwned(join(root, namespace), PARENT_MODE, 0, 0);
  return (await mkdirOwned(dir, WORKSPACE_DIR_MODE, WORKSPACE_DIR_UID, WORKSPACE_DIR_GID)) ? 'created' : 'existed';
}

/**
 * Removes a workspace's data: renamed into data_dir/workspaces/.trash at once (so the name is free
 * and nothing can reach the old data by it), then deleted in the background. Absent data is fine.
 */
export async function removeWorkspaceDir(dataDir: string, namespace: string, name: string, uid: string, log: Logger = silentLogger): Promise<void> {
  const dir = workspacePath(dataDir, namespace, name);
  const trash = join(dataDir, 'workspaces', TRASH);
  await mkdirOwned(trash, 0o700, 0, 0);
  const target = join(trash, `${namespace}_${name}_${uid}`);
  try {
    await rename(dir, target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code !== 'EXDEV' && code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    // Another filesystem mounted at the namespace, or a stale trash entry: delete in place.
    await rm(dir, { recursive: true, force: true });
    return;
  }
  void rm(target, { recursive: true, force: true }).catch((e: unknown) => log.warn(`workspace data ${target} not removed: ${errorMessage(e)}`));
}

/** Removes what deletions left in the trash (a crash between the rename and the removal). */
export async function emptyTrash(dataDir: string, log: Logger = silentLogger): Promise<void> {
  const trash = join(dataDir, 'workspaces', TRASH);
  let names: string[];
  try {
    names = await readdir(trash);
  } catch {
    return;
  }
  for (const n of names) {
    await rm(join(trash, n), { recursive: true, force: true }).catch((e: unknown) => log.warn(`workspace trash ${n} not removed: ${errorMessage(e)}`));
  }
}

// ---------- persistent workspaces for sessions ----------

export interface EnsureWorkspaceOptions {
  /** Default Retain: a workspace made on a session's behalf keeps its data. */
  reclaimPolicy?: 'Retain' | 'Delete';
  labels?: Record<string, string>;
}

/**
 * The Workspace `namespace/name`, created when absent (Retain by default). An existing one is
 * returned as it is — also when it is being deleted: the caller decides what that means for it.
 */
export async function ensureWorkspace(client: Client, namespace: string, name: string, options: EnsureWorkspaceOptions = {}): Promise<Workspace> {
  const existing = await client.tryGet('workspaces', namespace, name);
  if (existing) return existing;
  const ws: Workspace = {
    apiVersion: 'sandkasten.dev/v1',
    kind: 'Workspace',
    metadata: { name, namespace, ...(options.labels && { labels: options.labels }) },
    spec: { reclaimPolicy: options.reclaimPolicy ?? 'Retain' },
  };
  try {
    return await client.create('workspaces', namespace, ws);
  } catch (err) {
    if (isAlreadyExists(err)) return client.get('workspaces', namespace, name);
    throw err;
  }
}

/** The name of the persistent Workspace a session without spec.workspace gets: `ws-<session name>`, cut to 253. */
export function defaultWorkspaceName(sessionName: string): string {
  return `ws-${sessionName}`.slice(0, 253).replace(/[-.]+$/, '');
}

/**
 * For `workspace.persist_by_default`: the persistent Workspace (`ws-<session name>`, Retain,
 * labelled with the session) a session without spec.workspace gets, created when absent. Returns
 * its name, for the caller to put into the Session's spec.workspace.
 */
export async function ensureDefaultWorkspace(client: Client, session: Pick<Session, 'metadata'>): Promise<string> {
  const namespace = session.metadata.namespace ?? 'default';
  const sessionName = session.metadata.name ?? '';
  const name = defaultWorkspaceName(sessionName);
  // A label value holds at most 63 characters; longer session names go unlabelled.
  const labels = sessionName.length <= 63 ? { 'sandkasten.dev/session': sessionName } : undefined;
  await ensureWorkspace(client, namespace, name, { reclaimPolicy: 'Retain', ...(labels && { labels }) });
  return name;
}
