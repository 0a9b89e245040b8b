// A controller ties one primary informer (plus optional secondary watches mapped to primary keys)
// to a work queue and a Reconciler. It is level-triggered: events only say "look at this key";
// the reconciler reads the current state and converges, so a lost or merged event costs nothing.

import { errorMessage, isTerminalError } from './errors.js';
import type { EventHandler, Informer } from './informer.js';
import { prefixed, silentLogger, type Logger } from './log.js';
import { objectKey, type RuntimeObject } from './types.js';
import { WorkQueue, type WorkQueueMetrics } from './workqueue.js';

export interface ReconcileContext {
  /** Unique per reconcile within the process; also in every `log` line. */
  readonly id: number;
  /** Lines prefixed with `reconcile[id] key`. */
  readonly log: Logger;
  /** Aborted when the controller stops: long operations should give up. */
  readonly signal: AbortSignal;
  /** The primary object as cached when this reconcile began; undefined once it is deleted. */
  readonly object: RuntimeObject | undefined;
  /** Failures of this key since its last success. */
  readonly retries: number;
}

export interface ReconcileResult {
  /** Reconcile this key again after this delay (e.g. to enforce a TTL). */
  requeueAfterMs?: number;
}

export interface Reconciler {
  /** Throw to retry with backoff; throw TerminalError to give up until the object changes. */
  reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileResult | void>;
}

/** A secondary resource whose changes should reconcile primary keys (e.g. Workspace → Sessions). */
export interface SecondaryWatch {
  informer: Informer;
  /** The primary keys affected by `obj` (called for the old and the new version on updates). */
  map(obj: RuntimeObject): string[];
}

export interface ControllerOptions {
  /** For log lines, e.g. "session". */
  name: string;
  /** The primary kind: its keys are what gets reconciled. */
  for: Informer;
  watches?: SecondaryWatch[];
  reconciler: Reconciler;
  /** Reconciles of different keys run concurrently up to this many (default 1). */
  workers?: number;
  logger?: Logger;
  /** Backoff of failed keys (defaults 5 ms doubling to 5 min). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** How long start() waits for the informers' first list (default: forever). */
  syncTimeoutMs?: number;
}

export interface StopOptions {
  /** Finish every queued key before stopping (default false: only the in-flight ones). */
  drain?: boolean;
}

type Outcome =
  | { kind: 'success' }
  | { kind: 'requeueAfter'; ms: number }
  | { kind: 'error'; error: unknown }
  | { kind: 'terminal'; error: unknown };

let nextReconcileId = 1;

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  readonly #primary: Informer;
  readonly #watches: SecondaryWatch[];
  readonly #reconciler: Reconciler;
  readonly #workers: number;
  readonly #log: Logger;
  readonly #syncTimeoutMs: number | undefined;
  readonly #abort = new AbortController();
  readonly #unregister: Array<() => void> = [];
  #state: 'new' | 'starting' | 'running' | 'stopped' = 'new';

  /** Reconciles by outcome, for tests and logs. */
  readonly stats = { success: 0, requeueAfter: 0, error: 0, terminal: 0 };

  constructor(options: ControllerOptions) {
    this.name = options.name;
    this.#primary = options.for;
    this.#watches = options.watches ?? [];
    this.#reconciler = options.reconciler;
    this.#workers = options.workers ?? 1;
    this.#log = options.logger ?? silentLogger;
    this.#syncTimeoutMs = options.syncTimeoutMs;
    this.queue = new WorkQueue({
      name: options.name,
      // #reconcileOne catches everything; reaching this is a bug in the runtime itself.
      onHandlerError: (key, err) => this.#log.error(`controller ${this.name}: ${key}: ${errorMessage(err)}`),
      ...(options.baseDelayMs !== undefined && { baseDelayMs: options.baseDelayMs }),
      ...(options.maxDelayMs !== undefined && { maxDelayMs: options.maxDelayMs }),
    });
  }

  /**
   * Subscribes to the informers, waits until they have synced (the caller starts them), enqueues
   * every cached primary key once — the full resync that makes a restart converge — and starts
   * the workers.
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error(`controller ${this.name}: already started`);
    this.#state = 'starting';
    const enqueue = (obj: RuntimeObject) => this.queue.add(objectKey(obj));
    this.#unregister.push(
      this.#primary.addEventHandler({ onAdd: enqueue, onUpdate: (_old, obj) => enqueue(obj), onDelete: enqueue }),
    );
    for (const w of this.#watches) this.#unregister.push(w.informer.addEventHandler(this.#mapped(w)));

    const wait = { signal: this.#abort.signal, ...(this.#syncTimeoutMs !== undefined && { timeoutMs: this.#syncTimeoutMs }) };
    try {
      await Promise.all([this.#primary, ...this.#watches.map((w) => w.informer)].map((i) => i.waitForSync(wait)));
    } catch (err) {
      if (this.#stopping()) return; // stop() during start is not a failure
      throw err;
    }
    if (this.#stopping()) return;

    const keys = this.#primary.keys();
    for (const key of keys) this.queue.add(key);
    this.#log.info(`controller ${this.name}: synced, ${keys.length} keys queued, ${this.#workers} workers`);
    this.queue.run((key) => this.#reconcileOne(key), this.#workers);
    this.#state = 'running';
  }

  /** Stops the workers (aborting reconciles' signals) and resolves when all have finished. */
  async stop(options: StopOptions = {}): Promise<void> {
    if (this.#state === 'stopped') return;
    // Draining needs workers; before they run there is nothing in flight to wait for.
    const drain = (options.drain ?? false) && this.#state === 'running';
    this.#state = 'stopped';
    for (const off of this.#unregister.splice(0)) off();
    // With drain the in-flight and queued reconciles should complete, so their signal stays quiet.
    if (!drain) this.#abort.abort();
    await this.queue.shutdown({ drain });
    this.#abort.abort();
  }

  metrics(): WorkQueueMetrics & Controller['stats'] {
    return { ...this.queue.metrics(), ...this.stats };
  }

  // A method, so TypeScript does not narrow #state across the awaits in start().
  #stopping(): boolean {
    return this.#state === 'stopped';
  }

  #mapped(w: SecondaryWatch): EventHandler {
    const enqueue = (...objs: RuntimeObject[]) => {
      // One add per key: an idle worker takes a key at once, so a second add would run it twice.
      const keys = new Set<string>();
      for (const obj of objs) for (const key of w.map(obj)) keys.add(key);
      for (const key of keys) this.queue.add(key);
    };
    return {
      onAdd: (obj) => enqueue(obj),
      // Both versions: a reference that moved away must reconcile the old primary too.
      onUpdate: (oldObj, newObj) => enqueue(oldObj, newObj),
      onDelete: (obj) => enqueue(obj),
    };
  }

  async #reconcileOne(key: string): Promise<void> {
    const id = nextReconcileId++;
    const log = prefixed(this.#log, `reconcile[${id}] ${this.name} ${key}`);
    const ctx: ReconcileContext = {
      id,
      log,
      signal: this.#abort.signal,
      object: this.#primary.get(key),
      retries: this.queue.numRequeues(key),
    };
    const started = performance.now();
    let outcome: Outcome;
    try {
      const result = await this.#reconciler.reconcile(key, ctx);
      const after = result?.requeueAfterMs;
      outcome = after !== undefined && Number.isFinite(after) ? { kind: 'requeueAfter', ms: Math.max(0, after) } : { kind: 'success' };
    } catch (error) {
      outcome = isTerminalError(error) ? { kind: 'terminal', error } : { kind: 'error', error };
    }
    const took = `${(performance.now() - started).toFixed(1)} ms`;
    this.stats[outcome.kind]++;

    switch (outcome.kind) {
      case 'success':
        this.queue.forget(key);
        log.debug(`=> ok (${took})`);
        break;
      case 'requeueAfter':
        this.queue.forget(key);
        this.queue.addAfter(key, outcome.ms);
        log.debug(`=> requeue after ${outcome.ms} ms (${took})`);
        break;
      case 'error': {
        const delay = this.queue.addRateLimited(key);
        log.warn(`=> error, retry ${this.queue.numRequeues(key)} in ${delay} ms (${took}): ${errorMessage(outcome.error)}`);
        break;
      }
      case 'terminal':
        this.queue.forget(key);
        log.error(`=> terminal error, not retried (${took}): ${errorMessage(outcome.error)}`);
        break;
    }
  }
}
