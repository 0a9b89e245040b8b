// An informer keeps a local cache of one resource in step with the API: list, then watch from
// the list's resourceVersion. A broken watch resumes from the last resourceVersion it saw (with
// backoff); only a 410 Gone — the version was compacted away — costs a full re-list, whose diff
// against the cache is delivered as add/update/delete so handlers miss nothing.
//
// Cached objects are deep-frozen and shared with every handler and reconciler: copy
// (structuredClone) before changing one.

import { errorMessage, isGoneError } from './errors.js';
import { silentLogger, type Logger } from './log.js';
import { objectKey, type ListerWatcher, type RuntimeObject, type WatchEvent } from './types.js';

export interface EventHandler {
  onAdd?(obj: RuntimeObject): void;
  onUpdate?(oldObj: RuntimeObject, newObj: RuntimeObject): void;
  onDelete?(obj: RuntimeObject): void;
}

export interface InformerOptions {
  listerWatcher: ListerWatcher;
  /** For log lines; defaults to the lister-watcher's description. */
  name?: string;
  logger?: Logger;
  /** Redeliver every cached object as onUpdate(obj, obj) this often; 0 (default) = never. */
  resyncPeriodMs?: number;
  /** Retry delay after a failed list/watch: doubles from initialMs to maxMs (100 ms, 30 s). */
  backoff?: { initialMs?: number; maxMs?: number };
}

export interface WaitForSyncOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** A watch that ended within this time without an event counts as a failure (backs off). */
const minHealthyWatchMs = 1000;

export class Informer {
  readonly name: string;
  readonly #lw: ListerWatcher;
  readonly #log: Logger;
  readonly #resyncPeriodMs: number;
  readonly #backoffInitialMs: number;
  readonly #backoffMaxMs: number;

  readonly #cache = new Map<string, RuntimeObject>();
  readonly #handlers = new Set<EventHandler>();
  #resourceVersion = '';
  #synced = false;
  #syncWaiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  #abort: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #resyncTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  #lists = 0;
  #watches = 0;

  constructor(options: InformerOptions) {
    this.#lw = options.listerWatcher;
    this.name = options.name ?? options.listerWatcher.description;
    this.#log = options.logger ?? silentLogger;
    this.#resyncPeriodMs = options.resyncPeriodMs ?? 0;
    this.#backoffInitialMs = options.backoff?.initialMs ?? 100;
    this.#backoffMaxMs = options.backoff?.maxMs ?? 30_000;
  }

  /**
   * Registers handlers; returns a function that unregisters them. Objects already cached are
   * delivered to the new handler as adds right away, so late registration misses nothing.
   */
  addEventHandler(handler: EventHandler): () => void {
    this.#handlers.add(handler);
    if (handler.onAdd) for (const obj of this.#cache.values()) this.#call(handler, 'onAdd', obj);
    return () => this.#handlers.delete(handler);
  }

  /** Starts list + watch in the background; idempotent. */
  start(): void {
    if (this.#loop !== undefined) return;
    if (this.#stopped) throw new Error(`informer ${this.name}: cannot restart a stopped informer`);
    this.#abort = new AbortController();
    this.#loop = this.#run(this.#abort.signal);
    if (this.#resyncPeriodMs > 0) {
      this.#resyncTimer = setInterval(() => this.#resync(), this.#resyncPeriodMs);
    }
  }

  /** Stops the watch and resolves when the background loop has ended. The cache stays readable. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#resyncTimer);
    this.#abort?.abort();
    for (const w of this.#syncWaiters.splice(0)) w.reject(new Error(`informer ${this.name}: stopped before sync`));
    await this.#loop;
  }

  /** True once the first list has been applied to the cache. */
  hasSynced(): boolean {
    return this.#synced;
  }

  /** Resolves when synced; rejects on timeout, abort or stop. */
  waitForSync(options: WaitForSyncOptions = {}): Promise<void> {
    if (this.#synced) return Promise.resolve();
    if (this.#stopped) return Promise.reject(new Error(`informer ${this.name}: stopped before sync`));
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const cleanup = () => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        this.#syncWaiters = this.#syncWaiters.filter((w) => w !== waiter);
      };
      const waiter = {
        resolve: () => (cleanup(), resolve()),
        reject: (err: Error) => (cleanup(), reject(err)),
      };
      const onAbort = () => waiter.reject(new Error(`informer ${this.name}: wait for sync aborted`));
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(
          () => waiter.reject(new Error(`informer ${this.name}: not synced after ${options.timeoutMs} ms`)),
          options.timeoutMs,
        );
      }
      this.#syncWaiters.push(waiter);
    });
  }

  /** The cached object under `key` (`namespace/name` or `name`). */
  get(key: string): RuntimeObject | undefined {
    return this.#cache.get(key);
  }

  /** Every cached object, optionally only those of one namespace. */
  list(namespace?: string): RuntimeObject[] {
    const all = [...this.#cache.values()];
    return namespace === undefined ? all : all.filter((o) => (o.metadata.namespace ?? '') === namespace);
  }

  keys(): string[] {
    return [...this.#cache.keys()];
  }

  get size(): number {
    return this.#cache.size;
  }

  /** Lists attempted (1 + one per 410 or failed list); for tests and logs. */
  get lists(): number {
    return this.#lists;
  }

  /** Watches attempted. */
  get watches(): number {
    return this.#watches;
  }

  /** The newest resourceVersion applied to the cache (from a list, an event or a bookmark). */
  get resourceVersion(): string {
    return this.#resourceVersion;
  }

  async #run(signal: AbortSignal): Promise<void> {
    let needList = true;
    let failures = 0; // consecutive failed lists/watches, for the backoff
    let gone = 0; // consecutive 410s without an event in between
    while (!signal.aborted) {
      let progressed = false;
      try {
        if (needList) {
          this.#lists++;
          const { items, resourceVersion } = await this.#lw.list();
          if (signal.aborted) return;
          this.#replace(items, resourceVersion);
          needList = false;
        }
        this.#watches++;
        const started = Date.now();
        for await (const event of this.#lw.watch(this.#resourceVersion, signal)) {
          if (signal.aborted) return;
          this.#apply(event);
          progressed = true;
        }
        if (signal.aborted) return;
        // A clean end (server-side timeout) is normal; one straight after opening is suspicious.
        if (!progressed && Date.now() - started < minHealthyWatchMs) throw new Error('watch closed at once');
        this.#log.debug(`informer ${this.name}: watch ended at rv ${this.#resourceVersion}, resuming`);
        failures = 0;
        gone = 0;
      } catch (err) {
        if (signal.aborted) return;
        if (progressed) failures = gone = 0;
        if (isGoneError(err)) {
          this.#log.info(`informer ${this.name}: rv ${this.#resourceVersion} expired, re-listing`);
          needList = true;
          // Re-list at once, unless the last re-list led straight to another 410.
          if (gone++ === 0) continue;
        }
        const delay = Math.min(this.#backoffInitialMs * 2 ** failures, this.#backoffMaxMs);
        failures++;
        this.#log.warn(
          `informer ${this.name}: ${needList ? 'list' : 'watch'} failed at rv ${this.#resourceVersion || '-'}: ` +
            `${errorMessage(err)}; retry in ${delay} ms`,
        );
        await sleep(delay, signal);
      }
    }
  }

  /** Applies a full list: the diff against the cache becomes add/update/delete notifications. */
  #replace(items: RuntimeObject[], resourceVersion: string): void {
    const fresh = new Map<string, RuntimeObject>();
    for (const obj of items) fresh.set(objectKey(obj), deepFreeze(obj));
    for (const [key, old] of this.#cache) {
      if (fresh.has(key)) continue;
      this.#cache.delete(key);
      this.#notify('onDelete', old);
    }
    for (const [key, obj] of fresh) {
      const old = this.#cache.get(key);
      this.#cache.set(key, obj);
      if (old === undefined) this.#notify('onAdd', obj);
      // resourceVersion is one global counter: equal means unchanged, so no update to deliver.
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.#notify('onUpdate', obj, old);
    }
    this.#resourceVersion = resourceVersion;
    this.#log.debug(`informer ${this.name}: listed ${items.length} at rv ${resourceVersion}`);
    if (!this.#synced) {
      this.#synced = true;
      for (const w of this.#syncWaiters.slice()) w.resolve();
    }
  }

  #apply(event: WatchEvent): void {
    const rv = event.object.metadata.resourceVersion;
    switch (event.type) {
      case 'BOOKMARK':
        break;
      case 'ADDED':
      case 'MODIFIED': {
        deepFreeze(event.object);
        const key = objectKey(event.object);
        const old = this.#cache.get(key);
        this.#cache.set(key, event.object);
        if (old === undefined) this.#notify('onAdd', event.object);
        else this.#notify('onUpdate', event.object, old);
        break;
      }
      case 'DELETED': {
        deepFreeze(event.object);
        const key = objectKey(event.object);
        this.#cache.delete(key);
        this.#notify('onDelete', event.object);
        break;
      }
    }
    if (rv) this.#resourceVersion = rv;
  }

  #resync(): void {
    for (const obj of this.#cache.values()) this.#notify('onUpdate', obj, obj);
  }

  #notify(kind: 'onAdd' | 'onDelete', obj: RuntimeObject): void;
  #notify(kind: 'onUpdate', obj: RuntimeObject, old: RuntimeObject): void;
  #notify(kind: keyof EventHandler, obj: RuntimeObject, old?: RuntimeObject): void {
    for (const h of this.#handlers) this.#call(h, kind, obj, old);
  }

  #call(h: EventHandler, kind: keyof EventHandler, obj: RuntimeObject, old?: RuntimeObject): void {
    // A throwing handler must not stop the informer or starve the other handlers.
    try {
      if (kind === 'onUpdate') h.onUpdate?.(old!, obj);
      else h[kind]?.(obj);
    } catch (err) {
      this.#log.error(`informer ${this.name}: ${kind} handler for ${objectKey(obj)} threw: ${errorMessage(err)}`);
    }
  }
}

/** Resolves after `ms`, or early when `signal` aborts; leaves no timer behind either way. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Freezes `value` and everything reachable from it; already-frozen subtrees are skipped. */
function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const v of Object.values(value)) deepFreeze(v);
  return value;
}
