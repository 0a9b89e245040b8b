// The Session reconciler: each Session becomes a sandbox through node-agent, and its status says
// how far that got.
//
//   Pending   resolve the image (ImageReady) and the workspace (WorkspaceBound); refusals
//             (image not allowed, bridge network, unconfined seccomp) stay here with a condition
//   Starting  write the bundle, node-agent run --detach, wait until the runner answers `info`
//   Ready     status.sandbox {id, pid, cgroup, startedAt}; a health check every few seconds (and
//             at once when the runner's socket closes; reconciles in between, which writes to the
//             object cause, stand on the last one); spec.resources applied live; other spec
//             changes reported in the SpecApplied condition (the session must be recreated)
//   Failed    the runner died (OOMKilled or RunnerExited) or the sandbox cannot be created
//   Terminating  deletion: node-agent delete, the session's directory removed, then the finalizer
//
// Everything external is named from the uid (container sk-<uid>, data_dir/sessions/<uid>), so the
// reconciler is idempotent and survives a kill -9 at any point: a running container is adopted (its
// shell untouched), a half-created one finished or recreated, and collectOrphans removes
// containers and directories whose Session is gone.
//
// The runner's exit status cannot be observed: after `create` the sandbox's PID 1 is not a child of
// node-agent or of this process. What can be known is said: the OOM killer's count in the sandbox's
// cgroup (node-agent state oomKills) and the runner's last output.

import { connect, type Socket } from 'node:net';
import { existsSync, readdirSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { formatBytes, sessionWorkspaceMount, type Condition, type ResolvedConfig, type Session, type SessionStatus } from '@sandkasten/api-schemas';
import { nowRfc3339 } from '../apiserver/registry.js';
import { deepEqual } from '../apiserver/merge.js';
import { retryOnConflict, type Client } from '../client/index.js';
import type { EventRecorder, EventType } from '../events/index.js';
import { ImageMetaError, readImageMeta, type ImageMeta } from '../images/index.js';
import { RunnerClient, type RunnerInfo } from '../runner/index.js';
import type { Controller, Manager, ReconcileContext, ReconcileResult, RuntimeObject } from '../runtime/index.js';
import { errorMessage, splitKey } from '../runtime/index.js';
import {
  buildBundle,
  BundleError,
  cgroupPath,
  changedSettings,
  containerId,
  fixedSettings,
  fixedSettingsOf,
  hostHasSwapLimit,
  ociResources,
  sessionLimits,
  imageNameOf,
  NodeAgentError,
  prepareSessionDirs,
  readBundleConfig,
  removeCgroupLeftovers,
  removeSessionDir,
  sessionPaths,
  tailOf,
  workspacePath,
  writeBundleConfig,
  type ContainerState,
  type NodeAgent,
  type OciConfig,
} from '../sandbox/index.js';
import { expireTimeOf } from './reaper.js';
import { setCondition, type Cond } from './conditions.js';

export const SESSION_FINALIZER = 'sandkasten.dev/sandbox';

export interface SessionControllerOptions {
  client: Client;
  /** The controller is added to it (before start); it shares the manager's informers. */
  manager: Manager;
  config: ResolvedConfig;
  dataDir: string;
  agent: NodeAgent;
  runnerPath: string;
  recorder?: EventRecorder;
  /** Concurrent reconciles (default 4: each mostly waits for node-agent or a runner). */
  workers?: number;
  /** Health check period of a Ready session (default 10 s). */
  healthCheckMs?: number;
  /** How long a new runner may take to answer (default 10 s). */
  runnerReadyTimeoutMs?: number;
  /** Retry period while the image or the workspace is missing (default 2 s). */
  waitRetryMs?: number;
}

/** Failed create attempts before the session is given up as Failed. */
const CREATE_ATTEMPTS = 4;



function conditionOf(s: Session, type: string): Condition | undefined {
  return s.status?.conditions?.find((c) => c.type === type);
}

/** What the reconciler remembers of a live sandbox (rebuilt after a restart). */
interface Tracked {
  uid: string;
  key: string;
  /** The OOM kill count at the last healthy look: a later rise at the runner's death means OOM. */
  oomKills?: number;
  /** A connection to the runner whose close says the runner went away. */
  watch?: Socket;
  watchClosedAt?: number;
  /** The state of the last health check (node-agent state, or the runner answering) and when it was made (performance.now()). */
  checked?: { st: ContainerState; at: number };
}

class PendingError extends Error {
  constructor(
    readonly condition: Cond,
    readonly requeueAfterMs: number | undefined,
    readonly eventType: EventType = 'Warning',
  ) {
    super(condition.message);
  }
}

/**
 * Registers the Session controller with `manager` (before manager.start()) and returns it. It
 * reconciles `sessions`, and watches `images` and `workspaces` for sessions waiting on them.
 */
export function sessionController(options: SessionControllerOptions): Controller {
  const sessions = options.manager.informer('sessions');
  let controller: Controller | undefined;
  const r = new SessionReconciler(options, (key) => controller?.queue.add(key));
  const byImage = (obj: RuntimeObject) =>
    sessions
      .list()
      .filter((s) => imageNameOf(s as unknown as Session, options.config) === obj.metadata.name)
      .map(keyOf);
  const byWorkspace = (obj: RuntimeObject) =>
    sessions
      .list(obj.metadata.namespace)
      .filter((s) => sessionWorkspaceMount((s as unknown as Session).spec)?.name === obj.metadata.name)
      .map(keyOf);
  controller = options.manager.addController({
    name: 'session',
    for: 'sessions',
    watches: [
      { resource: 'images', map: byImage },
      { resource: 'workspaces', map: byWorkspace },
    ],
    reconciler: r,
    workers: options.workers ?? 4,
  });
  // Stopping the controller also drops the runner watches (sandboxes go on).
  const stop = controller.stop.bind(controller);
  controller.stop = async (o) => {
    await stop(o);
    r.close();
  };
  return controller;
}

function keyOf(o: RuntimeObject): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
}

export class SessionReconciler {
  readonly #client: Client;
  readonly #config: ResolvedConfig;
  readonly #dataDir: string;
  readonly #agent: NodeAgent;
  readonly #runnerPath: string;
  readonly #recorder: EventRecorder | undefined;
  readonly #healthMs: number;
  readonly #readyMs: number;
  readonly #waitMs: number;
  readonly #swapLimit = hostHasSwapLimit();
  readonly #tracked = new Map<string, Tracked>();
  readonly #enqueue: (key: string) => void;
  #closed = false;

  constructor(o: SessionControllerOptions, enqueue: (key: string) => void) {
    this.#client = o.client;
    this.#config = o.config;
    this.#dataDir = o.dataDir;
    this.#agent = o.agent;
    this.#runnerPath = o.runnerPath;
    this.#recorder = o.recorder;
    this.#healthMs = o.healthCheckMs ?? 10_000;
    this.#readyMs = o.runnerReadyTimeoutMs ?? 10_000;
    this.#waitMs = o.waitRetryMs ?? 2000;
    this.#enqueue = enqueue;
  }

  /** Drops the runner watches (the sandboxes go on). */
  close(): void {
    this.#closed = true;
    for (const t of this.#tracked.values()) t.watch?.destroy();
    this.#tracked.clear();
  }

  async reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileResult | void> {
    const { namespace, name } = splitKey(key);
    let s = await this.#client.tryGet('sessions', namespace, name);
    if (!s) {
      // Gone without its finalizer (removed from the database): the orphan scan takes the sandbox.
      for (const [uid, t] of this.#tracked) {
        if (t.key === key) {
          t.watch?.destroy();
          this.#tracked.delete(uid);
        }
      }
      return;
    }
    const uid = s.metadata.uid!;
    if (s.metadata.deletionTimestamp) return this.#finalize(s, ctx);
    if (!s.metadata.finalizers?.includes(SESSION_FINALIZER)) {
      s = await this.#client.addFinalizer('sessions', namespace, name, SESSION_FINALIZER);
    }
    const phase = s.status?.phase;
    if (phase === 'Failed') {
      // Final once a sandbox ran (its shell state is gone); a sandbox that could not be made from
      // the spec is tried again when the spec changes.
      const failedAt = conditionOf(s, 'Ready')?.observedGeneration;
      if (s.status?.reason !== 'CreateFailed' || failedAt === undefined || failedAt === s.metadata.generation) return;
    }
    const recent = phase === 'Ready' ? this.#recentlyChecked(uid, s) : undefined;
    if (recent) return this.#observe(key, s, recent, ctx, false, false);
    const id = containerId(uid);
    const st = this.#agent.exists(id) ? await this.#agent.state(id) : undefined;
    if (st?.status === 'running') return this.#observe(key, s, st, ctx);
    if (st?.status === 'stopped') return this.#runnerDied(s, st, ctx);
    if (!st && phase === 'Expired') return; // the reaper deletes it
    if (!st && phase === 'Ready') {
      await this.#fail(s, 'SandboxLost', `the sandbox ${containerId(uid)} no longer exists (removed outside the controller, or the host restarted)`);
      return;
    }
    return this.#start(key, s, st, ctx);
  }

  // ---- Pending → Starting → Ready ------------------------------------------------------------

  async #start(key: string, s: Session, st: ContainerState | undefined, ctx: ReconcileContext): Promise<ReconcileResult | void> {
    const gen = s.metadata.generation;
    const uid = s.metadata.uid!;
    let image: ImageMeta;
    let ws: { source: string | undefined; cond: Cond };
    let bundle: ReturnType<typeof buildBundle>;
    const imageCond: Cond = { type: 'ImageReady', status: 'True', reason: 'Present', message: `image ${imageNameOf(s, this.#config)} is present` };
    try {
      image = this.#resolveImage(s);
      ws = await this.#resolveWorkspace(s);
      bundle = this.#bundle(s, image, ws.source);
    } catch (e) {
      if (!(e instanceof PendingError)) throw e;
      const c = e.condition;
      const old = conditionOf(s, c.type);
      await this.#writeStatus(s, (x) => {
        x.phase = 'Pending';
        // What was resolved before the failing step is reported too.
        if (c.type !== 'ImageReady') setCondition(x, imageCond, gen);
        setCondition(x, c, gen);
        if (c.type !== 'Ready') setCondition(x, { type: 'Ready', status: 'False', reason: c.reason, message: c.message }, gen);
        x.observedGeneration = gen;
      });
      if (old?.reason !== c.reason || old?.status !== c.status) this.#event(s, e.eventType, c.reason!, c.message ?? '');
      return e.requeueAfterMs !== undefined ? { requeueAfterMs: e.requeueAfterMs } : undefined;
    }
    const id = containerId(uid);
    const paths = sessionPaths(this.#dataDir, uid);
    if (st?.status === 'creating') {
      // A create that crashed (or one killed with its caller): start over.
      ctx.log.info(`${id}: half-created, removing it to create it again`);
      await this.#agent.delete(id);
      removeCgroupLeftovers(uid);
      st = undefined;
    }
    const fromThisSpec = !st;
    let made: Promise<{ pid: number }>;
    if (!st) {
      const user = bundle.config.process.user;
      prepareSessionDirs(paths, user, bundle.fixed.workspace?.name === null);
      writeBundleConfig(paths, bundle.config);
      this.#event(s, 'Normal', 'Creating', `creating sandbox ${id} from image ${bundle.fixed.image}`);
      made = this.#agent.runDetached(id, paths.bundle, paths.log);
    } else {
      // Created before a crash, not started yet.
      const createdPid = st.pid;
      made = this.#agent.start(id).then(() => ({ pid: createdPid }));
    }
    made.catch(() => {}); // awaited below
    // Written while node-agent works (the sandbox is named from the uid: a retry finds it).
    let writeFailed: { error: unknown } | undefined;
    try {
      s = await this.#writeStatus(s, (x) => {
        x.phase = 'Starting';
        delete x.reason;
        delete x.message;
        setCondition(x, imageCond, gen);
        setCondition(x, ws.cond, gen);
        setCondition(x, { type: 'Ready', status: 'False', reason: 'Starting', message: 'the sandbox is starting' }, gen);
      });
    } catch (error) {
      writeFailed = { error };
    }
    let pid: number;
    try {
      pid = (await made).pid;
    } catch (e) {
      if (fromThisSpec) return this.#createFailed(s, e, ctx);
      throw e;
    }
    if (writeFailed) throw writeFailed.error;
    const t0 = performance.now();
    let info: RunnerInfo;
    try {
      info = await this.#waitForRunner(paths.socket, this.#readyMs, ctx.signal);
    } catch (e) {
      const now = await this.#agent.state(id);
      if (now?.status !== 'running') return this.#runnerDied(s, now, ctx);
      await this.#writeStatus(s, (x) =>
        setCondition(x, { type: 'Ready', status: 'False', reason: 'RunnerNotReady', message: errorMessage(e) }, gen),
      );
      throw e;
    }
    // The runner answering is the proof it runs; state is asked only when create gave no pid.
    const running: ContainerState | undefined = pid > 0 ? { ...(st ?? emptyState(id, paths.bundle)), status: 'running', pid, oomKills: st?.oomKills ?? 0 } : await this.#agent.state(id);
    if (running?.status !== 'running') return this.#runnerDied(s, running, ctx);
    this.#event(s, 'Normal', 'Started', `sandbox ${id} started: runner pid ${running.pid}, shell ${info.shell}`);
    return this.#ready(key, s, running, `runner answered ${(performance.now() - t0).toFixed(1)} ms after the sandbox started`, ctx, fromThisSpec);
  }

  /** The image's meta.json; PendingError when not allowed, absent or broken. */
  #resolveImage(s: Session): ImageMeta {
    const name = imageNameOf(s, this.#config);
    const allowed = this.#config.allowed_images;
    if (allowed.length > 0 && !allowed.includes(name)) {
      throw new PendingError(
        { type: 'ImageReady', status: 'False', reason: 'ImageNotAllowed', message: `image "${name}" is not allowed on this daemon (allowed_images: ${allowed.join(', ')})` },
        undefined,
      );
    }
    let meta: ImageMeta | undefined;
    try {
      meta = readImageMeta(this.#dataDir, name);
    } catch (e) {
      const reason = e instanceof ImageMetaError ? 'ImageInvalid' : 'ImageUnreadable';
      throw new PendingError({ type: 'ImageReady', status: 'False', reason, message: `image "${name}": ${errorMessage(e)}` }, this.#waitMs * 5);
    }
    if (!meta) {
      throw new PendingError(
        { type: 'ImageReady', status: 'False', reason: 'ImageNotFound', message: `image "${name}" is not on this host (no images/${name}/meta.json): pull or import it` },
        this.#waitMs,
      );
    }
    return meta;
  }

  /** The host directory to mount as the workspace (undefined: none); PendingError while not bound. */
  async #resolveWorkspace(s: Session): Promise<{ source: string | undefined; cond: Cond }> {
    const ns = s.metadata.namespace ?? '';
    const m = sessionWorkspaceMount(s.spec);
    let source: string | undefined;
    let cond: Cond;
    if (m) {
      if (!this.#config.workspace.enabled) {
        throw new PendingError({ type: 'WorkspaceBound', status: 'False', reason: 'WorkspacesDisabled', message: `workspaces are disabled on this daemon (workspace.enabled: false); spec.workspace names "${m.name}"` }, undefined);
      }
      const ws = await this.#client.tryGet('workspaces', ns, m.name);
      if (!ws) {
        throw new PendingError({ type: 'WorkspaceBound', status: 'False', reason: 'WorkspaceNotFound', message: `Workspace "${m.name}" does not exist in namespace ${ns}` }, this.#waitMs);
      }
      if (ws.metadata.deletionTimestamp) {
        throw new PendingError({ type: 'WorkspaceBound', status: 'False', reason: 'WorkspaceTerminating', message: `Workspace "${m.name}" is being deleted` }, this.#waitMs);
      }
      source = workspacePath(this.#dataDir, ns, m.name);
      if (!isDir(source)) {
        // The Workspace reconciler makes the directory; its status change requeues this session.
        throw new PendingError({ type: 'WorkspaceBound', status: 'False', reason: 'WorkspacePending', message: `Workspace "${m.name}" has no directory yet` }, this.#waitMs, 'Normal');
      }
      cond = { type: 'WorkspaceBound', status: 'True', reason: 'Bound', message: `Workspace "${m.name}" mounted at ${m.mountPath}` };
    } else if (this.#config.workspace.enabled) {
      source = sessionPaths(this.#dataDir, s.metadata.uid!).workspace;
      cond = { type: 'WorkspaceBound', status: 'True', reason: 'Ephemeral', message: 'an ephemeral workspace, removed with the session, is mounted at /workspace' };
    } else {
      cond = { type: 'WorkspaceBound', status: 'True', reason: 'NoWorkspace', message: 'workspaces are disabled on this daemon (workspace.enabled: false): nothing is mounted at /workspace' };
    }
    return { source, cond };
  }

  #bundle(s: Session, image: ImageMeta, workspaceSource: string | undefined): ReturnType<typeof buildBundle> {
    try {
      return buildBundle({ dataDir: this.#dataDir, session: s, image, config: this.#config, runnerPath: this.#runnerPath, workspaceSource, swapLimit: this.#swapLimit });
    } catch (e) {
      if (e instanceof BundleError) throw new PendingError({ type: 'Ready', status: 'False', reason: e.reason, message: e.message }, undefined);
      throw e;
    }
  }

  async #createFailed(s: Session, e: unknown, ctx: ReconcileContext): Promise<ReconcileResult | void> {
    const id = containerId(s.metadata.uid!);
    const msg = e instanceof NodeAgentError ? e.message : errorMessage(e);
    await this.#agent.delete(id).catch(() => {});
    removeCgroupLeftovers(s.metadata.uid!);
    this.#event(s, 'Warning', 'CreateFailed', `node-agent run ${id}: ${msg}`);
    if (ctx.retries + 1 >= CREATE_ATTEMPTS) {
      await this.#fail(s, 'CreateFailed', `the sandbox could not be created (${CREATE_ATTEMPTS} attempts): ${msg}`);
      return;
    }
    await this.#writeStatus(s, (x) =>
      setCondition(x, { type: 'Ready', status: 'False', reason: 'CreateFailed', message: msg }, s.metadata.generation),
    );
    throw e;
  }

  /**
   * Waits for the socket (the runner binds it under a temporary name and renames it into place
   * once it accepts, so its existence means "ready"), then asks `info`. The rename is seen at once
   * through inotify on the socket's directory; polling (from 1 ms, doubling to 50 ms) stays
   * underneath, for a host out of inotify watches and for an `info` that failed.
   */
  async #waitForRunner(socket: string, timeoutMs: number, signal: AbortSignal): Promise<RunnerInfo> {
    const end = Date.now() + timeoutMs;
    let delay = 1;
    let last: unknown;
    let wake: (() => void) | undefined;
    let watcher: FSWatcher | undefined;
    try {
      // Set up before the first look: a rename after it wakes the wait below.
      watcher = watch(dirname(socket), { persistent: false }, (_event, file) => {
        if (file === null || file === basename(socket)) wake?.();
      });
      watcher.on('error', () => {});
    } catch {
      // no inotify (or no directory yet): polling alone
    }
    try {
      while (Date.now() < end && !signal.aborted) {
        if (existsSync(socket)) {
          try {
            return await runnerInfo(socket, Math.max(100, end - Date.now()));
          } catch (e) {
            last = e;
          }
        }
        await new Promise<void>((r) => {
          const timer = setTimeout(r, delay);
          wake = () => {
            clearTimeout(timer);
            r();
          };
        });
        wake = undefined;
        delay = Math.min(delay * 2, 50);
      }
    } finally {
      watcher?.close();
    }
    throw new Error(`the runner did not answer on its socket within ${timeoutMs} ms${last ? ` (${errorMessage(last)})` : ''}`);
  }

  async #ready(key: string, s: Session, st: ContainerState, why: string, ctx: ReconcileContext, fromThisSpec = false): Promise<ReconcileResult> {
    const uid = s.metadata.uid!;
    const gen = s.metadata.generation;
    const wasReady = s.status?.phase === 'Ready';
    const now = nowRfc3339();
    s = await this.#writeStatus(s, (x) => {
      if (x.phase !== 'Expired') x.phase = 'Ready';
      delete x.reason;
      delete x.message;
      x.sandbox = { id: containerId(uid), pid: st.pid, cgroup: cgroupPath(uid), startedAt: x.sandbox?.startedAt && x.sandbox.pid === st.pid ? x.sandbox.startedAt : now };
      if (x.lastActivityTime === undefined) {
        // Ready counts as the first activity: the idle deadline moves to now + TTL.
        x.lastActivityTime = now;
        x.expireTime = expireTimeOf({ metadata: s.metadata, spec: s.spec, status: x }, this.#config.session_ttl_seconds);
      }
      setCondition(x, { type: 'Ready', status: 'True', reason: 'RunnerReady', message: `the runner (pid ${st.pid}) answers` }, gen);
      if (fromThisSpec) {
        // Made from this very spec: applied by construction.
        setCondition(x, { type: 'SpecApplied', status: 'True', reason: 'Applied', message: `generation ${gen} applied at creation` }, gen);
        x.observedGeneration = gen;
      }
    });
    if (!wasReady) this.#event(s, 'Normal', 'Ready', `sandbox ${containerId(uid)} is ready (${why})`);
    return this.#observe(key, s, st, ctx, true);
  }

  // ---- Ready: health, live updates, spec drift -----------------------------------------------

  /**
   * The state of the last health check, when a reconcile may stand on it instead of running
   * `node-agent state`: most reconciles of a Ready session come from writes to its object (this
   * reconciler's own status writes, activity, the reaper's expireTime), not from the sandbox.
   * The runner's death is seen without asking: its watch connection closes, which drops the
   * watch and reconciles at once. So the last check holds while the watch is connected, the
   * status still names the sandbox it saw, and the periodic check is not due.
   */
  #recentlyChecked(uid: string, s: Session): ContainerState | undefined {
    const t = this.#tracked.get(uid);
    const c = t?.checked;
    if (!t?.watch || !c) return undefined;
    // The timer of the periodic check may fire a little early on the monotonic clock.
    if (performance.now() - c.at >= this.#healthMs * 0.9) return undefined;
    if (s.status?.sandbox?.pid !== c.st.pid || conditionOf(s, 'Ready')?.status !== 'True') return undefined;
    return c.st;
  }

  /**
   * `fresh`: the runner answered just now (a start). `checked`: `st` comes from a look at the
   * sandbox now, not from #recentlyChecked.
   */
  async #observe(key: string, s: Session, st: ContainerState, ctx: ReconcileContext, fresh = false, checked = true): Promise<ReconcileResult> {
    const uid = s.metadata.uid!;
    const gen = s.metadata.generation;
    let t = this.#tracked.get(uid);
    if (!t) {
      // First look in this process (a restart, or a start that a crash interrupted): adopt it.
      if (!fresh) {
        const paths = sessionPaths(this.#dataDir, uid);
        try {
          await this.#waitForRunner(paths.socket, this.#readyMs, ctx.signal);
        } catch (e) {
          const now = await this.#agent.state(containerId(uid));
          if (now?.status !== 'running') return (await this.#runnerDied(s, now, ctx)) ?? {};
          throw e;
        }
        if (s.status?.phase !== 'Ready' && s.status?.phase !== 'Expired') {
          this.#event(s, 'Normal', 'Adopted', `found sandbox ${containerId(uid)} running (pid ${st.pid}): adopted`);
          return this.#ready(key, s, st, 'adopted after a restart', ctx);
        }
        ctx.log.info(`${containerId(uid)}: running (pid ${st.pid}), adopted`);
      }
      t = { uid, key };
      this.#tracked.set(uid, t);
    }
    if (st.oomKills !== undefined && st.oomKills > (t.oomKills ?? 0)) {
      // The OOM killer acted since the last look. Its count becomes the baseline only once the
      // runner is seen alive after it: a runner being killed right now still shows as running
      // (its socket closes before it is a zombie), and its death must count as OOM.
      if (!(await this.#runnerAnswers(sessionPaths(this.#dataDir, uid).socket))) return { requeueAfterMs: 50 };
    }
    t.oomKills = st.oomKills;
    if (checked) t.checked = { st, at: performance.now() };
    this.#watchRunner(key, t);
    if (!fresh && (s.status?.sandbox?.pid !== st.pid || conditionOf(s, 'Ready')?.status !== 'True')) {
      return this.#ready(key, s, st, 'the runner answers again', ctx);
    }
    await this.#applySpec(s, gen);
    // The next health check is due a period after the last one (an earlier park of the key wins).
    return { requeueAfterMs: checked ? this.#healthMs : Math.max(1, t.checked!.at + this.#healthMs - performance.now()) };
  }

  /** Live resource changes; everything else reported in SpecApplied. */
  async #applySpec(s: Session, gen: number | undefined): Promise<void> {
    if (s.status?.observedGeneration === gen && conditionOf(s, 'SpecApplied')?.status === 'True') return;
    const uid = s.metadata.uid!;
    const paths = sessionPaths(this.#dataDir, uid);
    const applied = readBundleConfig(paths);
    const issues: string[] = [];
    let live = 'nothing to change';
    let failed: string | undefined;
    if (applied) {
      let wanted;
      try {
        wanted = fixedSettings(s, this.#config);
      } catch (e) {
        if (!(e instanceof BundleError)) throw e;
        issues.push(e.message);
      }
      const had = fixedSettingsOf(applied);
      if (wanted && had) {
        const changed = changedSettings(had, wanted);
        if (changed.length > 0) issues.push(`${changed.join(', ')} cannot change on a running session`);
      }
      try {
        live = await this.#applyLimits(s, applied);
      } catch (e) {
        failed = errorMessage(e);
      }
    }
    const cond: Cond = failed
      ? { type: 'SpecApplied', status: 'False', reason: 'ResourceUpdateFailed', message: `the new limits could not be applied: ${failed}` }
      : issues.length > 0
        ? { type: 'SpecApplied', status: 'False', reason: 'RecreateRequired', message: `${issues.join('; ')}: delete the session and create it again to apply the spec` }
        : { type: 'SpecApplied', status: 'True', reason: 'Applied', message: `generation ${gen} applied (${live})` };
    const before = conditionOf(s, 'SpecApplied');
    await this.#writeStatus(s, (x) => {
      setCondition(x, cond, gen);
      x.observedGeneration = gen;
    });
    if (before?.reason !== cond.reason || before?.message !== cond.message) {
      if (cond.status === 'False') this.#event(s, 'Warning', cond.reason!, cond.message!);
      else if (live !== 'nothing to change') this.#event(s, 'Normal', 'ResourcesUpdated', live);
    }
    if (failed) throw new Error(cond.message);
  }

  /** node-agent update when the wanted limits differ from the bundle's; the bundle is rewritten. */
  async #applyLimits(s: Session, applied: OciConfig): Promise<string> {
    let wanted;
    try {
      wanted = ociResources(sessionLimits(s, this.#config), this.#swapLimit);
    } catch (e) {
      if (e instanceof BundleError) throw new Error(e.message);
      throw e;
    }
    const had = applied.linux.resources;
    if (deepEqual(had, wanted)) return 'nothing to change';
    const id = containerId(s.metadata.uid!);
    await this.#agent.update(id, {
      ...(wanted.memory && { memory: wanted.memory.limit, ...(wanted.memory.swap !== undefined && { memorySwap: wanted.memory.swap }) }),
      ...(wanted.cpu && { cpuQuota: wanted.cpu.quota, cpuPeriod: wanted.cpu.period }),
      ...(wanted.pids && { pidsLimit: wanted.pids.limit }),
    });
    writeBundleConfig(sessionPaths(this.#dataDir, s.metadata.uid!), { ...applied, linux: { ...applied.linux, resources: wanted } });
    const parts: string[] = [];
    if (wanted.memory) parts.push(`memory ${formatBytes(wanted.memory.limit)}`);
    if (wanted.cpu) parts.push(`cpu ${wanted.cpu.quota / wanted.cpu.period}`);
    if (wanted.pids) parts.push(`pids ${wanted.pids.limit}`);
    return `limits updated live: ${parts.join(', ')}`;
  }

  async #runnerAnswers(socket: string): Promise<boolean> {
    try {
      await runnerInfo(socket, 2000);
      return true;
    } catch {
      return false;
    }
  }

  /** An idle connection to the runner: its close means the runner is gone (or dropped it). */
  #watchRunner(key: string, t: Tracked): void {
    if (t.watch || this.#closed) return;
    if (t.watchClosedAt && Date.now() - t.watchClosedAt < 1000) return; // a runner that keeps dropping it: rely on the health check
    const sock = connect(sessionPaths(this.#dataDir, t.uid).socket);
    t.watch = sock;
    sock.unref();
    sock.on('error', () => {});
    sock.on('close', () => {
      if (t.watch === sock) {
        t.watch = undefined;
        t.watchClosedAt = Date.now();
      }
      if (!this.#closed && this.#tracked.get(t.uid) === t) this.#enqueue(key);
    });
  }

  // ---- Failed ----------------------------------------------------------------------------------

  async #runnerDied(s: Session, st: ContainerState | undefined, ctx: ReconcileContext): Promise<void> {
    const uid = s.metadata.uid!;
    const id = containerId(uid);
    const t = this.#tracked.get(uid);
    const paths = sessionPaths(this.#dataDir, uid);
    const kills = st?.oomKills ?? 0;
    // A rise since the last healthy look; without one (a restart), any kill: the runner is the
    // last process the OOM killer picks, so a kill at all makes its death by OOM the likely one.
    const oom = kills > (t?.oomKills ?? 0);
    const tail = tailOf(paths.log, 600).split('\n').slice(-5).join(' | ');
    const limit = readBundleConfig(paths)?.linux.resources.memory?.limit;
    const reason = oom ? 'OOMKilled' : 'RunnerExited';
    const message = oom
      ? `the runner was killed by the OOM killer${limit ? ` (memory limit ${formatBytes(limit)})` : ''}; ${kills} process(es) OOM-killed in the sandbox`
      : `the runner (pid ${s.status?.sandbox?.pid ?? st?.pid ?? '?'}) exited; its exit status cannot be observed (it is not a child of the controller)${tail ? `; its last output: ${tail}` : ''}`;
    ctx.log.warn(`${id}: ${message}`);
    // The container holds nothing but an empty cgroup now; the session's files stay until deletion.
    await this.#agent.delete(id);
    removeCgroupLeftovers(uid);
    await this.#fail(s, reason, message);
  }

  async #fail(s: Session, reason: string, message: string): Promise<void> {
    const uid = s.metadata.uid!;
    const t = this.#tracked.get(uid);
    t?.watch?.destroy();
    this.#tracked.delete(uid);
    await this.#writeStatus(s, (x) => {
      x.phase = 'Failed';
      x.reason = reason;
      x.message = message;
      setCondition(x, { type: 'Ready', status: 'False', reason, message }, s.metadata.generation);
    });
    this.#event(s, 'Warning', reason, message);
  }

  // ---- Terminating -----------------------------------------------------------------------------

  async #finalize(s: Session, _ctx: ReconcileContext): Promise<void> {
    const uid = s.metadata.uid!;
    const id = containerId(uid);
    if (!s.metadata.finalizers?.includes(SESSION_FINALIZER)) return;
    if (s.status?.phase !== 'Terminating') {
      s = await this.#writeStatus(s, (x) => {
        x.phase = 'Terminating';
        setCondition(x, { type: 'Ready', status: 'False', reason: 'Terminating', message: 'the session is being deleted' }, s.metadata.generation);
      });
    }
    const t = this.#tracked.get(uid);
    t?.watch?.destroy();
    this.#tracked.delete(uid);
    await this.#agent.delete(id);
    const busy = removeCgroupLeftovers(uid);
    if (busy.length > 0) throw new Error(`cgroup of ${id} still has processes: ${busy.join(', ')}`);
    removeSessionDir(sessionPaths(this.#dataDir, uid));
    this.#event(s, 'Normal', 'Deleted', `sandbox ${id} and its files removed`);
    await this.#client.removeFinalizer('sessions', s.metadata.namespace ?? '', s.metadata.name!, SESSION_FINALIZER);
  }

  // ---- helpers ---------------------------------------------------------------------------------

  /**
   * Status written through /status only when it changes; re-read and redone on conflicts. The
   * first write also publishes status.expireTime, so the reaper need not write it (see
   * firstWriteGraceMs there).
   */
  async #writeStatus(s: Session, mutate: (status: SessionStatus) => void): Promise<Session> {
    let cur = s;
    let first = true;
    return retryOnConflict(async () => {
      if (!first) cur = await this.#client.get('sessions', s.metadata.namespace ?? '', s.metadata.name!);
      first = false;
      if (cur.metadata.uid !== s.metadata.uid) throw new Error(`session ${s.metadata.name} was replaced meanwhile`);
      const before = cur.status ?? {};
      const next = structuredClone(before);
      mutate(next);
      next.expireTime ??= expireTimeOf({ metadata: cur.metadata, spec: cur.spec, status: next }, this.#config.session_ttl_seconds);
      if (deepEqual(before, next)) return cur;
      return this.#client.updateStatus('sessions', { ...cur, status: next });
    });
  }

  #event(s: Session, type: EventType, reason: string, message: string): void {
    this.#recorder?.event(s, type, reason, message);
  }
}

/** The runner's `info`, or an error after `timeoutMs` (a stopped or wedged runner never answers). */
async function runnerInfo(socket: string, timeoutMs: number): Promise<RunnerInfo> {
  const c = new RunnerClient(socket, { connectTimeoutMs: timeoutMs, maxIdleConnections: 0 });
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      c.info(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the runner did not answer info within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    c.close();
  }
}

function emptyState(id: string, bundle: string): ContainerState {
  return { ociVersion: '', id, status: 'created', pid: 0, bundle, created: '', annotations: {} };
}

function isDir(p: string): boolean {
  try {
    readdirSync(p);
    return true;
  } catch {
    return false;
  }
}
