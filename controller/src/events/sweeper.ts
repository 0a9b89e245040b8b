// Events are kept for a while after they were last seen (event_ttl_seconds), then deleted — as
// the Kubernetes apiserver lets events expire from etcd. They are not deleted with their object:
// `describe` of a deleted object's name can still tell what happened to it.

import type { Event } from '@sandkasten/api-schemas';
import { errorMessage } from '../runtime/errors.js';
import { silentLogger, type Logger } from '../runtime/log.js';
import type { EventSink } from './sink.js';

export interface EventSweeperOptions {
  sink: EventSink;
  ttlSeconds: number;
  /** How often to sweep (default: a tenth of the TTL, at least 1 s and at most 60 s). */
  intervalMs?: number;
  logger?: Logger;
  /** Milliseconds since the epoch (default Date.now). */
  clock?: () => number;
}

export interface EventSweeper {
  /** Sweeps now (or waits for the sweep under way); resolves with the number of Events deleted. */
  sweep(): Promise<number>;
  /** Stops the timer and waits for a sweep under way. Idempotent. */
  stop(): Promise<void>;
}

/** When the Event was last seen: lastTimestamp, else firstTimestamp, else its creation. */
function lastSeen(e: Event): number | undefined {
  for (const t of [e.lastTimestamp, e.firstTimestamp, e.metadata?.creationTimestamp]) {
    const ms = typeof t === 'string' ? Date.parse(t) : NaN;
    if (!Number.isNaN(ms)) return ms;
  }
  return undefined;
}

/**
 * Deletes every Event last seen ttlMs or more before `now`. Each delete is conditional on the
 * resourceVersion listed, so an Event counted again meanwhile stays.
 */
export async function sweepEvents(sink: EventSink, ttlMs: number, now: number): Promise<number> {
  let deleted = 0;
  let visited = 0;
  for (const e of await sink.list()) {
    const seen = lastSeen(e);
    const rv = e.metadata.resourceVersion;
    if (seen === undefined || now - seen < ttlMs || !rv) continue;
    const r = await sink.delete(e.metadata.namespace ?? '', e.metadata.name ?? '', rv);
    if (r.ok) deleted++;
    // The in-process sink is synchronous: give the event loop a turn now and then.
    if (++visited % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  return deleted;
}

export function startEventSweeper(options: EventSweeperOptions): EventSweeper {
  const { sink, ttlSeconds } = options;
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) throw new Error(`event sweeper: ttlSeconds must be positive, got ${ttlSeconds}`);
  const log = options.logger ?? silentLogger;
  const clock = options.clock ?? Date.now;
  const ttlMs = ttlSeconds * 1000;
  const intervalMs = options.intervalMs ?? Math.min(60_000, Math.max(1_000, ttlMs / 10));
  let running: Promise<number> | undefined;
  let stopped = false;

  const sweep = (): Promise<number> => {
    running ??= sweepEvents(sink, ttlMs, clock())
      .then(
        (n) => {
          if (n > 0) log.info(`events: deleted ${n} last seen more than ${ttlSeconds}s ago`);
          return n;
        },
        (e) => {
          log.error(`events: sweep of ${sink.description} failed: ${errorMessage(e)}`);
          return 0;
        },
      )
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  // Events left from before a restart go at once; then at every interval. The timer does not
  // keep the process alive on its own.
  const first = setImmediate(() => void sweep());
  const timer = setInterval(() => void sweep(), intervalMs);
  timer.unref();

  return {
    sweep: () => (stopped ? Promise.resolve(0) : sweep()),
    async stop() {
      stopped = true;
      clearImmediate(first);
      clearInterval(timer);
      await running;
    },
  };
}
