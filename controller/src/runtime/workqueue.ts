// A de-duplicating work queue with per-key exponential backoff, after client-go's workqueue:
//
// - `dirty` holds keys that need processing, `processing` the keys a worker holds now. A key
//   added while queued is queued once; a key added while processing is only marked dirty and
//   goes back to the queue when its worker calls `done` — so one key is never processed twice at
//   once, and no change that arrived during processing is lost.
// - Failures back off per key: base·2^n up to a cap; `forget` resets the count on success.
// - `addAfter` parks a key until a deadline; an earlier deadline replaces a later one.

export interface WorkQueueOptions {
  /** For log lines and errors. */
  name?: string;
  /** First retry delay after a failure (default 5 ms). */
  baseDelayMs?: number;
  /** Backoff cap (default 5 min). */
  maxDelayMs?: number;
  /** Called when a `run` handler throws; handlers are expected to handle their own errors. */
  onHandlerError?: (key: string, err: unknown) => void;
}

export interface WorkQueueMetrics {
  /** Keys waiting for a worker. */
  depth: number;
  /** Keys held by a worker. */
  inFlight: number;
  /** Keys parked by addAfter / addRateLimited. */
  waiting: number;
  /** Adds that put a key into the queue (duplicates of a queued key not counted). */
  adds: number;
  /** Adds dropped because the key was already queued. */
  deduplicated: number;
  /** addRateLimited calls. */
  retries: number;
  /** Keys handed to workers. */
  processed: number;
}

export interface ShutdownOptions {
  /** true: workers finish every queued key first; false (default): only what is in flight. */
  drain?: boolean;
}

/** Delay for the n-th consecutive failure (n from 0): base·2^n, capped. */
export function backoffDelay(failures: number, baseMs: number, maxMs: number): number {
  // 2^n overflows to Infinity long after it passed any sane cap; Math.min handles that.
  return Math.min(baseMs * 2 ** failures, maxMs);
}

interface Parked {
  at: number;
  timer: NodeJS.Timeout;
}

export class WorkQueue {
  readonly name: string;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #onHandlerError: (key: string, err: unknown) => void;

  // FIFO as an array with a moving head: shift() is O(n) on large arrays.
  #items: string[] = [];
  #head = 0;
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #parked = new Map<string, Parked>();
  readonly #failures = new Map<string, number>();
  readonly #getters: Array<(key: string | undefined) => void> = [];
  readonly #idleWaiters: Array<() => void> = [];
  readonly #workers: Promise<void>[] = [];
  #shuttingDown = false;
  #drain = false;

  #adds = 0;
  #deduplicated = 0;
  #retries = 0;
  #processed = 0;

  constructor(options: WorkQueueOptions = {}) {
    this.name = options.name ?? 'queue';
    this.#baseDelayMs = options.baseDelayMs ?? 5;
    this.#maxDelayMs = options.maxDelayMs ?? 5 * 60_000;
    if (!(this.#baseDelayMs > 0) || !(this.#maxDelayMs >= this.#baseDelayMs)) {
      throw new RangeError(`workqueue ${this.name}: need 0 < baseDelayMs <= maxDelayMs`);
    }
    this.#onHandlerError =
      options.onHandlerError ??
      ((key, err) => process.stderr.write(`workqueue ${this.name}: handler for ${key} threw: ${String(err)}\n`));
  }

  /** Queues `key` unless it is already queued; a key being processed is re-queued when done. */
  add(key: string): void {
    if (this.#shuttingDown) return;
    if (this.#dirty.has(key)) {
      this.#deduplicated++;
      return;
    }
    this.#adds++;
    this.#dirty.add(key);
    if (this.#processing.has(key)) return;
    this.#push(key);
  }

  /** Adds `key` after `delayMs`; if it is already parked, the earlier deadline wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.#shuttingDown) return;
    if (!(delayMs > 0)) {
      this.add(key);
      return;
    }
    const at = Date.now() + delayMs;
    const existing = this.#parked.get(key);
    if (existing !== undefined) {
      if (existing.at <= at) return;
      clearTimeout(existing.timer);
    }
    const timer = setTimeout(() => {
      this.#parked.delete(key);
      this.add(key);
    }, delayMs);
    this.#parked.set(key, { at, timer });
  }

  /** Re-adds `key` after its backoff delay and counts a failure; returns the delay chosen. */
  addRateLimited(key: string): number {
    const failures = this.#failures.get(key) ?? 0;
    const delay = backoffDelay(failures, this.#baseDelayMs, this.#maxDelayMs);
    this.#failures.set(key, failures + 1);
    this.#retries++;
    this.addAfter(key, delay);
    return delay;
  }

  /** Resets the failure count of `key` (after a success, or when giving up). */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  /** Consecutive failures recorded for `key`. */
  numRequeues(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /**
   * The next key to process, marked as processing until `done(key)`. Waits while the queue is
   * empty; resolves undefined once the queue shuts down (after draining, with drain) or when
   * `signal` aborts first.
   */
  get(signal?: AbortSignal): Promise<string | undefined> {
    const key = this.#take();
    if (key !== undefined || this.#shuttingDown || signal?.aborted) return Promise.resolve(key);
    return new Promise((resolve) => {
      const getter = (k: string | undefined) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(k);
      };
      const onAbort = () => {
        const i = this.#getters.indexOf(getter);
        if (i >= 0) this.#getters.splice(i, 1);
        resolve(undefined);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#getters.push(getter);
    });
  }

  /** Ends processing of `key`; if it was added meanwhile, it is queued again. */
  done(key: string): void {
    if (!this.#processing.delete(key)) return;
    if (this.#dirty.has(key) && (!this.#shuttingDown || this.#drain)) this.#push(key);
    this.#checkIdle();
  }

  /**
   * Starts `workers` loops that each take a key, await `handler(key)` and mark it done. Keys are
   * processed concurrently across workers, never one key twice at once.
   */
  run(handler: (key: string) => Promise<void>, workers = 1): void {
    if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`workqueue ${this.name}: workers must be >= 1`);
    for (let i = 0; i < workers; i++) this.#workers.push(this.#worker(handler));
  }

  /**
   * Stops accepting keys, cancels parked ones and resolves when every worker has finished.
   * Without drain, queued keys are dropped; in-flight handlers always run to completion.
   */
  async shutdown(options: ShutdownOptions = {}): Promise<void> {
    if (!this.#shuttingDown) {
      this.#shuttingDown = true;
      this.#drain = options.drain ?? false;
      for (const p of this.#parked.values()) clearTimeout(p.timer);
      this.#parked.clear();
      if (!this.#drain) this.#dropQueued();
      // Waiting getters only exist while the queue is empty, so they can all be released.
      for (const resolve of this.#getters.splice(0)) resolve(undefined);
    }
    await new Promise<void>((resolve) => {
      this.#idleWaiters.push(resolve);
      this.#checkIdle();
    });
    await Promise.all(this.#workers);
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Keys waiting for a worker. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  metrics(): WorkQueueMetrics {
    return {
      depth: this.length,
      inFlight: this.#processing.size,
      waiting: this.#parked.size,
      adds: this.#adds,
      deduplicated: this.#deduplicated,
      retries: this.#retries,
      processed: this.#processed,
    };
  }

  async #worker(handler: (key: string) => Promise<void>): Promise<void> {
    for (;;) {
      const key = await this.get();
      if (key === undefined) return;
      try {
        await handler(key);
      } catch (err) {
        this.#onHandlerError(key, err);
      } finally {
        this.done(key);
      }
    }
  }

  #push(key: string): void {
    const getter = this.#getters.shift();
    if (getter !== undefined) {
      this.#startProcessing(key);
      getter(key);
    } else {
      this.#items.push(key);
    }
  }

  #take(): string | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const key = this.#items[this.#head++]!;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    this.#startProcessing(key);
    return key;
  }

  #startProcessing(key: string): void {
    this.#processing.add(key);
    this.#dirty.delete(key);
    this.#processed++;
  }

  #dropQueued(): void {
    for (let i = this.#head; i < this.#items.length; i++) this.#dirty.delete(this.#items[i]!);
    this.#items = [];
    this.#head = 0;
  }

  #checkIdle(): void {
    if (!this.#shuttingDown || this.#processing.size > 0 || this.length > 0) return;
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }
}
