// GitOpsSyncer: keeps one directory of manifests applied. chokidar reports changes below it; a
// debouncer turns each burst (an edit, a rename, a `git checkout` touching a hundred files) into
// one sync; a timer re-syncs every interval. Syncs never overlap: a change during a sync causes one
// more afterwards. Each sync reads the whole directory before it applies or prunes anything, so a
// start-up with the directory intact deletes nothing. The outcome goes to the GitOpsSync object's
// status and to Events about it.

import { resolve, relative, sep } from 'node:path';
import type { Stats } from 'node:fs';
import { watch, type FSWatcher } from 'chokidar';
import type { GitOpsSyncError, GitOpsSyncStatus } from '@sandkasten/api-schemas';
import { ApiError } from '../apiserver/errors.js';
import { deepEqual } from '../apiserver/merge.js';
import { nowRfc3339, Registry, type WriteOptions } from '../apiserver/registry.js';
import { defaultResourceTable, schemaValidator, withConfigDefaults, type Validator } from '../apiserver/resources.js';
import { EventRecorder, storeEventSink } from '../events/index.js';
import { silentLogger, type Logger } from '../runtime/log.js';
import type { Store, StoredObject } from '../store/types.js';
import { Debouncer } from './debounce.js';
import { gitBusy, gitInfo, type GitInfo } from './git.js';
import { applySetId, FIELD_MANAGER, syncObjectName } from './names.js';
import { DirectoryError, MANAGED_KINDS, scanDirectory } from './scan.js';
import { applyAndPrune, type SyncContext, type SyncResult } from './sync.js';

export interface GitOpsOptions {
  store: Store;
  /** The directory of manifests; made absolute against the working directory. */
  dir: string;
  /** Delete objects whose manifests are gone (default false: report them as orphaned). */
  prune?: boolean;
  /** Full re-sync period (default 60). */
  intervalSeconds?: number;
  logger?: Logger;
  /** The config keys admission fills in (default_image), so objects are admitted as over HTTP. */
  config?: { default_image?: string };
  /** Quiet period that ends a burst of changes (default 300 ms). */
  quietMs?: number;
  /** Longest a burst delays its sync (default 2 s). */
  maxWaitMs?: number;
  /** Longest a sync waits for a running git command to release index.lock (default 10 s). */
  gitWaitMs?: number;
  /** Watch the directory (default true); false: only the periodic re-sync and syncNow(). */
  watch?: boolean;
}

/** What one sync did, as written to the GitOpsSync status. */
export interface SyncReport {
  status: GitOpsSyncStatus;
  /** Absent when the directory could not be read. */
  result?: SyncResult;
}

export const GITOPS_COMPONENT = 'gitops';
const GV = 'sandkasten.dev/v1';
const MAX_LISTED = 100;
const MAX_MESSAGE = 4096;
const EXTENSIONS = /\.(ya?ml|json)$/i;

const cut = (s: string, n = MAX_MESSAGE) => (s.length > n ? `${s.slice(0, n - 3)}...` : s);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** "a.yaml[1]: spec.network.mode: Unsupported value …" */
export function formatError(e: GitOpsSyncError): string {
  return `${e.file || '.'}${e.document !== undefined ? `[${e.document}]` : ''}: ${e.field ? `${e.field}: ` : ''}${e.message}`;
}

export class GitOpsSyncer {
  /** The directory, absolute. */
  readonly dir: string;
  /** The GitOpsSync object's name. */
  readonly name: string;
  /** The applyset label value of objects applied from the directory. */
  readonly applySet: string;

  readonly #store: Store;
  readonly #prune: boolean;
  readonly #intervalMs: number;
  readonly #gitWaitMs: number;
  readonly #quietMs: number;
  readonly #watchEnabled: boolean;
  readonly #logger: Logger;
  readonly #ctx: SyncContext;
  readonly #syncs: Registry;
  readonly #recorder: EventRecorder;
  readonly #debouncer: Debouncer;
  #watcher: FSWatcher | undefined;
  #interval: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #dirMissing = false;
  #last: SyncReport | undefined;
  #firstDone = false;
  #wasDegraded = false;

  constructor(opts: GitOpsOptions) {
    this.dir = resolve(opts.dir);
    this.name = syncObjectName(this.dir);
    this.applySet = applySetId(this.dir);
    this.#store = opts.store;
    this.#prune = opts.prune ?? false;
    this.#intervalMs = (opts.intervalSeconds ?? 60) * 1000;
    this.#gitWaitMs = opts.gitWaitMs ?? 10_000;
    this.#quietMs = opts.quietMs ?? 300;
    this.#watchEnabled = opts.watch ?? true;
    this.#logger = opts.logger ?? silentLogger;
    const validator: Validator = withConfigDefaults(schemaValidator, opts.config ?? {});
    const table = defaultResourceTable();
    const registries = new Map<string, Registry>();
    for (const info of MANAGED_KINDS) registries.set(info.kind, new Registry(this.#store, table.byPlural(info.plural)!, validator));
    this.#ctx = { store: this.#store, registries, validator, applySet: this.applySet, prune: this.#prune };
    this.#syncs = new Registry(this.#store, table.byPlural('gitopssyncs')!, validator);
    this.#recorder = new EventRecorder({ sink: storeEventSink(this.#store), component: GITOPS_COMPONENT, logger: this.#logger });
    this.#debouncer = new Debouncer(() => this.#kick(), this.#quietMs, opts.maxWaitMs ?? 2_000);
  }

  /** The last sync's outcome. */
  get last(): SyncReport | undefined {
    return this.#last;
  }

  /**
   * Creates (or updates) the GitOpsSync object, starts watching, runs the first sync and starts
   * the periodic re-sync. Resolves once the first sync is done.
   */
  async start(): Promise<void> {
    this.#ensureObject();
    if (this.#watchEnabled) await this.#watch();
    await this.syncNow();
    if (this.#stopped) return;
    this.#interval = setInterval(() => this.#kick(), this.#intervalMs);
  }

  /** Runs a sync now (after the one in progress, if any) and resolves with its outcome. */
  async syncNow(): Promise<SyncReport | undefined> {
    this.#again = true;
    if (!this.#running) this.#kick();
    await this.#running;
    return this.#last;
  }

  /** Stops watching and re-syncing; waits for a sync in progress; flushes Events. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#debouncer.cancel();
    if (this.#interval) clearInterval(this.#interval);
    await this.#watcher?.close();
    this.#watcher = undefined;
    await this.#running;
    await this.#recorder.close();
  }

  #kick(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#loop().finally(() => (this.#running = undefined));
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      try {
        await this.#syncOnce();
      } catch (e) {
        // A bug, not a manifest problem: logged; the next change or interval tries again.
        this.#logger.error(`gitops ${this.name}: sync failed: ${(e as Error)?.stack ?? String(e)}`);
      }
    } while (this.#again && !this.#stopped);
  }

  #ignored(path: string, stats?: Stats): boolean {
    const rel = relative(this.dir, path);
    if (rel === '') return false;
    if (rel.split(sep).some((s) => s.startsWith('.'))) return true;
    return stats !== undefined && stats.isFile() && !EXTENSIONS.test(path);
  }

  async #watch(): Promise<void> {
    const w = watch(this.dir, {
      ignoreInitial: true,
      followSymlinks: false,
      ignorePermissionErrors: true,
      ignored: (p: string, st?: Stats) => this.#ignored(p, st),
    });
    w.on('all', (event, path) => {
      // Files of other kinds may still be reported where chokidar had no stats to filter them.
      if ((event === 'add' || event === 'change' || event === 'unlink') && !EXTENSIONS.test(path)) return;
      this.#debouncer.trigger();
    });
    w.on('error', (e) => {
      this.#logger.warn(`gitops ${this.name}: watching ${this.dir}: ${(e as Error).message}; the periodic re-sync goes on`);
      this.#debouncer.trigger();
    });
    this.#watcher = w;
    await new Promise<void>((r) => w.once('ready', () => r()));
  }

  /** The GitOpsSync object, created or its spec brought up to date. */
  #ensureObject(): StoredObject {
    const opts: WriteOptions = { dryRun: false, fieldValidation: 'Strict', fieldManager: FIELD_MANAGER, warnings: [] };
    const spec = { path: this.dir, applySet: this.applySet, prune: this.#prune, intervalSeconds: this.#intervalMs / 1000 };
    const cur = this.#store.get(this.#syncs.key('', this.name));
    if (!cur) return this.#syncs.create('', { apiVersion: GV, kind: 'GitOpsSync', metadata: { name: this.name }, spec }, opts);
    if (deepEqual(cur.spec, spec)) return cur;
    return this.#syncs.update('', this.name, { ...structuredClone(cur), spec }, '', opts);
  }

  /** Git info, waiting (up to gitWaitMs) while a git command holds index.lock. */
  async #gitSettled(): Promise<GitInfo | undefined> {
    const deadline = Date.now() + this.#gitWaitMs;
    for (;;) {
      const info = await gitInfo(this.dir);
      if (!gitBusy(info) || Date.now() >= deadline || this.#stopped) return info;
      await sleep(this.#quietMs);
    }
  }

  async #syncOnce(): Promise<void> {
    const started = Date.now();
    const git = await this.#gitSettled();
    // Changes reported so far are in what the scan is about to read; only later ones need a sync
    // of their own (while git held index.lock, a whole checkout may have been reported).
    this.#again = false;
    this.#debouncer.cancel();
    let result: SyncResult | undefined;
    let dirError: string | undefined;
    try {
      const scan = await scanDirectory(this.dir);
      if (this.#stopped) return;
      // Reading and applying are one synchronous step against the store after the scan.
      result = applyAndPrune(this.#ctx, scan);
    } catch (e) {
      if (!(e instanceof DirectoryError)) throw e;
      dirError = e.message;
    }
    if (this.#dirMissing && !dirError && this.#watchEnabled && !this.#stopped) {
      // The directory is back (re-created, re-mounted): watch it afresh.
      await this.#watcher?.close();
      await this.#watch();
    }
    this.#dirMissing = dirError !== undefined;
    const report = this.#report(result, dirError, git, Date.now() - started);
    this.#last = report;
    this.#record(report);
  }

  /** Builds the status, writes it, and returns the report. */
  #report(result: SyncResult | undefined, dirError: string | undefined, git: GitInfo | undefined, durationMs: number): SyncReport {
    const obj = this.#ensureObject();
    const prev = (obj.status ?? {}) as GitOpsSyncStatus;
    const errors: GitOpsSyncError[] = dirError ? [{ file: '.', message: dirError }] : (result?.errors ?? []);
    const failed = dirError ? 1 : (result?.failed ?? 0);
    const now = nowRfc3339();
    const ok = failed === 0;
    const held = result?.held ?? 0;
    let syncedMsg: string;
    let reason: string;
    if (dirError) {
      reason = 'DirectoryUnreadable';
      syncedMsg = `${dirError}; nothing was applied or pruned`;
    } else if (!ok) {
      reason = 'ManifestErrors';
      syncedMsg = `${failed} manifest${failed === 1 ? '' : 's'} could not be applied; the objects of ${failed === 1 ? 'its file keep' : 'their files keep'} their last applied state${held ? ` (${held} kept from pruning)` : ''}: ${formatError(errors[0]!)}`;
    } else {
      reason = 'Synced';
      syncedMsg = `${result!.objects} object${result!.objects === 1 ? '' : 's'} applied from ${this.dir}`;
      if (result!.orphaned) syncedMsg += `; ${result!.orphaned} orphaned (prune is off)`;
      if (result!.emptyDirectory && held) syncedMsg += `; the directory declares no objects, so the ${held} it applied before were not pruned`;
    }
    const condition = (type: string, status: 'True' | 'False', r: string, message: string) => {
      const old = prev.conditions?.find((c) => c.type === type);
      return {
        type,
        status,
        reason: r,
        message: cut(message),
        lastTransitionTime: old && old.status === status ? (old.lastTransitionTime ?? now) : now,
        observedGeneration: obj.metadata.generation as number,
      };
    };
    const status: GitOpsSyncStatus = {
      observedGeneration: obj.metadata.generation as number,
      conditions: [
        condition('Synced', ok ? 'True' : 'False', reason, syncedMsg),
        ok ? condition('Degraded', 'False', 'AsExpected', 'every manifest was applied') : condition('Degraded', 'True', reason, syncedMsg),
      ],
      lastSyncTime: now,
      lastSyncDurationMs: durationMs,
      syncCount: (prev.syncCount ?? 0) + 1,
      ...(git?.commit ? { commit: git.commit, shortCommit: git.commit.slice(0, 7) } : {}),
      ...(git?.branch ? { branch: git.branch } : {}),
      objects: result?.objects ?? 0,
      applied: result?.applied ?? 0,
      unchanged: result?.unchanged ?? 0,
      pruned: result?.pruned ?? 0,
      failed,
      orphaned: result?.orphaned ?? 0,
      ...(errors.length ? { errors: errors.slice(0, MAX_LISTED).map((e) => ({ ...e, file: cut(e.file), message: cut(e.message) })) } : {}),
      ...(result?.orphans.length ? { orphans: result.orphans.slice(0, MAX_LISTED) } : {}),
    };
    this.#writeStatus(obj, status);
    return { status, ...(result ? { result } : {}) };
  }

  #writeStatus(obj: StoredObject, status: GitOpsSyncStatus): void {
    const opts: WriteOptions = { dryRun: false, fieldValidation: 'Strict', fieldManager: FIELD_MANAGER, warnings: [] };
    for (let attempt = 0; ; attempt++) {
      try {
        this.#syncs.update('', this.name, { ...structuredClone(obj), status }, 'status', opts);
        return;
      } catch (e) {
        // Someone else wrote the object meanwhile (or deleted it): re-read and write again.
        if (!(e instanceof ApiError) || (e.status !== 409 && e.status !== 404) || attempt >= 3) throw e;
        obj = this.#ensureObject();
      }
    }
  }

  /** Log line and Events: every sync that changed or failed something, and the first one. */
  #record(report: SyncReport): void {
    const s = report.status;
    const obj = this.#store.get(this.#syncs.key('', this.name));
    const at = s.shortCommit ? ` at commit ${s.shortCommit}` : '';
    const counts = `applied ${s.applied}, unchanged ${s.unchanged}, pruned ${s.pruned}, failed ${s.failed}${s.orphaned ? `, orphaned ${s.orphaned}` : ''}`;
    const changed = (s.applied ?? 0) > 0 || (s.pruned ?? 0) > 0;
    const degraded = (s.failed ?? 0) > 0;
    const line = `gitops ${this.name}: ${counts}${at} in ${s.lastSyncDurationMs}ms${report.result?.changes.length ? ` (${report.result.changes.join(', ')})` : ''}`;
    if (degraded) this.#logger.warn(`${line}: ${formatError(s.errors![0]!)}`);
    else if (report.result?.emptyDirectory && report.result.held) this.#logger.warn(`${line}: the directory declares no objects; the ${report.result.held} it applied before were not pruned`);
    else if (changed || !this.#firstDone) this.#logger.info(line);
    else this.#logger.debug(line);
    if (obj) {
      if (changed || (!degraded && (!this.#firstDone || this.#wasDegraded))) this.#recorder.event(obj, 'Normal', 'Synced', `${counts}${at}`, { action: 'Sync' });
      if (degraded) {
        const more = (s.errors?.length ?? 0) > 1 ? ` (and ${s.errors!.length - 1} more)` : '';
        this.#recorder.event(obj, 'Warning', 'SyncFailed', `${s.failed} manifest${s.failed === 1 ? '' : 's'} failed: ${formatError(s.errors![0]!)}${more}`, { action: 'Sync' });
      }
    }
    this.#firstDone = true;
    this.#wasDegraded = degraded;
  }
}

/** Starts a syncer (see GitOpsSyncer.start) and returns it. */
export async function startGitOps(opts: GitOpsOptions): Promise<GitOpsSyncer> {
  const s = new GitOpsSyncer(opts);
  try {
    await s.start();
  } catch (e) {
    await s.stop();
    throw e;
  }
  return s;
}
