// Periodic log compaction. The store stays synchronous; this only schedules it.

import { DEFAULT_COMPACT_MIN_AGE_MS, DEFAULT_COMPACT_MIN_EVENTS } from './sqlite-store.js';
import type { Store } from './types.js';

export interface CompactorOptions {
  /** Keep at least this many newest events. Default 1000. */
  minEvents?: number;
  /** Keep every event younger than this. Default 5 minutes. */
  minAgeMs?: number;
  /** Where a failed compaction is reported. Default: stderr. */
  onError?: (err: unknown) => void;
}

/** Compacts `store` every `intervalMs` (the timer does not keep the process alive). Returns stop(). */
export function startCompactor(store: Store, intervalMs: number, opts: CompactorOptions = {}): () => void {
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) throw new TypeError('startCompactor: intervalMs must be > 0');
  const minEvents = opts.minEvents ?? DEFAULT_COMPACT_MIN_EVENTS;
  const minAgeMs = opts.minAgeMs ?? DEFAULT_COMPACT_MIN_AGE_MS;
  const onError = opts.onError ?? ((e: unknown) => process.stderr.write(`store: compaction failed: ${String(e)}\n`));
  const timer = setInterval(() => {
    try {
      store.compact(minEvents, minAgeMs);
    } catch (e) {
      onError(e);
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
