// Periodic log compaction. The store stays synchronous; this schedules it in slices of at most
// `batchRows` rows, yielding to the event loop between slices so a big cut never stalls requests.

import { DEFAULT_COMPACT_MIN_AGE_MS, DEFAULT_COMPACT_MIN_EVENTS } from './sqlite-store.js';
import type { Store } from './types.js';

export interface CompactorOptions {
  /** Keep at least this many newest events. Default 1000. */
  minEvents?: number;
  /** Keep every event younger than this. Default 5 minutes. */
  minAgeMs?: number;
  /** Rows deleted per slice. Default 5000 (a few ms). */
  batchRows?: number;
  /** Where a failed compaction is reported. Default: stderr. */
  onError?: (err: unknown) => void;
}

/** Compacts `store` every `intervalMs` (the timer does not keep the process alive). Returns stop(). */
export function startCompactor(store: Store, intervalMs: number, opts: CompactorOptions = {}): () => void {
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) throw new TypeError('startCompactor: intervalMs must be > 0');
  const minEvents = opts.minEvents ?? DEFAULT_COMPACT_MIN_EVENTS;
  const minAgeMs = opts.minAgeMs ?? DEFAULT_COMPACT_MIN_AGE_MS;
  const batchRows = opts.batchRows ?? 5000;
  const onError = opts.onError ?? ((e: unknown) => process.stderr.write(`store: compaction failed: ${String(e)}\n`));
  let stopped = false;
  let running = false;
  const slice = (): void => {
    if (stopped) {
      running = false;
      return;
    }
    try {
      if (store.compact(minEvents, minAgeMs, batchRows) >= batchRows) {
        setImmediate(slice);
        return;
      }
    } catch (e) {
      onError(e);
    }
    running = false;
  };
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    slice();
  }, intervalMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
