// EventRecorder: how reconcilers report lifecycle steps and failures as Events, after client-go's
// record package. `event()` returns at once and never throws; writes happen in the background, in
// order, one at a time. As in Kubernetes:
//   - the same occurrence (object uid, type, reason, message) is counted on one Event (count,
//     lastTimestamp) instead of written anew; its name `<object name>.<hash>` is derived from that
//     identity, so counting continues across restarts for as long as the Event exists (until the
//     sweeper removes it, event_ttl_seconds after it was last seen);
//   - more than `maxSimilar` distinct messages for one (object, type, reason) within
//     `similarWindowMs` are combined into one Event "(combined from similar events): <latest>";
//   - each object has a token bucket (burst 25, one more every 5 minutes), so a hot loop cannot
//     flood the store. Occurrences beyond it are not written, but counted into the next write of
//     the same Event, so its count stays true. Repeats that arrive while a write of the same Event
//     is still queued are folded into it and cost nothing.
// Write failures are logged, never passed to the caller.

import { createHash } from 'node:crypto';
import type { Event, ObjectReference } from '@sandkasten/api-schemas';
import { errorMessage } from '../runtime/errors.js';
import { silentLogger, type Logger } from '../runtime/log.js';
import type { EventSink } from './sink.js';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorderOptions {
  sink: EventSink;
  /** Who reports: source.component and reportingComponent, e.g. "session-controller". */
  component: string;
  logger?: Logger;
  /** Milliseconds since the epoch (default Date.now); tests move time with it. */
  clock?: () => number;
  /** Events one object may cause in a burst (default 25, as Kubernetes). */
  burst?: number;
  /** One more allowed event per object every this many ms (default 5 minutes, as Kubernetes). */
  refillIntervalMs?: number;
  /** Distinct messages per (object, type, reason) within similarWindowMs before they are combined (default 10). */
  maxSimilar?: number;
  similarWindowMs?: number;
  /** Writes waiting at most; more are dropped (default 1000). */
  queueSize?: number;
  /** Events (and objects) whose state is remembered (default 4096). */
  cacheSize?: number;
}

/**
 * What an Event can be about: any object read from the API — an informer's RuntimeObject or a
 * typed Session, Workspace or Image. apiVersion, kind, metadata.name and metadata.uid must be set.
 */
export interface InvolvedObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
}

export interface RecordOptions {
  /** What the component did or failed to do, e.g. "Pull". */
  action?: string;
}

export interface RecorderStats {
  /** Calls of event(). */
  recorded: number;
  /** Events created or updated. */
  written: number;
  /** Occurrences folded into a write that was already queued. */
  coalesced: number;
  /** Occurrences beyond the object's allowance: not written, counted into the next write of their Event. */
  rateLimited: number;
  /** Occurrences dropped because the queue was full. */
  queueFull: number;
  /** Calls that could not make an Event (object without uid, bad type or reason); logged. */
  invalid: number;
  /** Writes that failed; logged. */
  failed: number;
}

/** The longest message an Event holds (the schema's limit); longer ones are cut. */
export const MAX_EVENT_MESSAGE = 4096;
const COMBINED = '(combined from similar events)';
const REASON_RE = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;
const HASH_HEX = 16;
const MAX_NAME = 253;

/** A map that forgets its least recently used entry beyond `max`. */
class Lru<V> {
  readonly #m = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(k: string): V | undefined {
    const v = this.#m.get(k);
    if (v !== undefined) {
      this.#m.delete(k);
      this.#m.set(k, v);
    }
    return v;
  }
  set(k: string, v: V): void {
    this.#m.delete(k);
    this.#m.set(k, v);
    if (this.#m.size > this.max) this.#m.delete(this.#m.keys().next().value as string);
  }
}

interface Pending {
  key: string;
  namespace: string;
  name: string;
  ref: ObjectReference;
  type: EventType;
  reason: string;
  message: string;
  action?: string;
  /** Occurrences this write adds. */
  count: number;
  firstAt: number;
  lastAt: number;
}

interface Known {
  /** The Event as last written or read. */
  event?: Event;
  /** Rate-limited occurrences not yet written, and when the first of them happened. */
  carry: number;
  carryFirstAt: number;
}

/** RFC 3339 with seconds precision, as Kubernetes writes event timestamps. */
function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 3)}...`;
}

/** The object's reference, or why there is none. */
function reference(obj: InvolvedObject | undefined): ObjectReference | string {
  const m = obj?.metadata;
  if (!obj?.apiVersion || !obj.kind) return 'the object has no apiVersion and kind';
  if (!m?.name) return 'the object has no metadata.name';
  if (!m.uid) return 'the object has no metadata.uid (was it read from the API?)';
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    name: m.name,
    ...(m.namespace ? { namespace: m.namespace } : {}),
    uid: m.uid,
    ...(m.resourceVersion ? { resourceVersion: m.resourceVersion } : {}),
  };
}

/**
 * The Event's name: the object's name, a dot, and 16 hex digits of the occurrence's identity —
 * the shape of Kubernetes' event names, but deterministic, so a repeat finds its Event.
 */
export function eventName(objectName: string, identity: string): string {
  const hash = createHash('sha256').update(identity).digest('hex').slice(0, HASH_HEX);
  const base = objectName.slice(0, MAX_NAME - HASH_HEX - 1).replace(/[-.]+$/, '');
  return `${base}.${hash}`;
}

export class EventRecorder {
  readonly #sink: EventSink;
  readonly #component: string;
  readonly #log: Logger;
  readonly #clock: () => number;
  readonly #burst: number;
  readonly #refillMs: number;
  readonly #maxSimilar: number;
  readonly #similarMs: number;
  readonly #queueSize: number;
  /** Writes waiting, by identity, in arrival order. */
  readonly #queue = new Map<string, Pending>();
  readonly #known: Lru<Known>;
  readonly #buckets: Lru<{ tokens: number; at: number }>;
  readonly #similar: Lru<{ start: number; ids: Set<string> }>;
  readonly #stats: RecorderStats = { recorded: 0, written: 0, coalesced: 0, rateLimited: 0, queueFull: 0, invalid: 0, failed: 0 };
  #running: Promise<void> | undefined;
  #closed = false;
  #warnedFull = false;

  constructor(options: EventRecorderOptions) {
    if (!options.component) throw new Error('EventRecorder: component is required');
    this.#sink = options.sink;
    this.#component = options.component;
    this.#log = options.logger ?? silentLogger;
    this.#clock = options.clock ?? Date.now;
    this.#burst = options.burst ?? 25;
    this.#refillMs = options.refillIntervalMs ?? 5 * 60_000;
    this.#maxSimilar = options.maxSimilar ?? 10;
    this.#similarMs = options.similarWindowMs ?? 10 * 60_000;
    this.#queueSize = options.queueSize ?? 1000;
    const cache = options.cacheSize ?? 4096;
    this.#known = new Lru(cache);
    this.#buckets = new Lru(cache);
    this.#similar = new Lru(cache);
  }

  /** Counters since start, for tests and metrics. A copy. */
  get stats(): RecorderStats {
    return { ...this.#stats };
  }

  /**
   * Records that `reason` happened to `obj` (a Session, Workspace, Image … as read from the API:
   * apiVersion, kind, metadata.name and uid are needed). Returns at once; never throws.
   */
  event(obj: InvolvedObject, type: EventType, reason: string, message: string, options: RecordOptions = {}): void {
    try {
      this.#record(obj, type, reason, message, options);
    } catch (e) {
      this.#log.error(`event ${reason}: ${errorMessage(e)}`);
    }
  }

  /** Resolves once everything recorded so far has been written (or has failed). */
  async flush(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** Writes what is queued; later calls of event() are ignored. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  #record(obj: InvolvedObject, type: EventType, reason: string, message: string, options: RecordOptions): void {
    this.#stats.recorded++;
    if (this.#closed) return;
    const ref = reference(obj);
    const bad =
      typeof ref === 'string'
        ? ref
        : type !== 'Normal' && type !== 'Warning'
          ? `type ${JSON.stringify(type)} is neither Normal nor Warning`
          : typeof reason !== 'string' || reason.length > 128 || !REASON_RE.test(reason)
            ? `reason ${JSON.stringify(reason)} is not a CamelCase word of at most 128 characters`
            : undefined;
    if (bad !== undefined || typeof ref === 'string') {
      this.#stats.invalid++;
      this.#log.warn(`event ${String(reason)} about ${obj?.kind ?? '?'} ${obj?.metadata?.name ?? '?'} not recorded: ${bad}`);
      return;
    }
    const now = this.#clock();
    let text = truncate(String(message), MAX_EVENT_MESSAGE);
    const identity = (m: string) => `${ref.uid}\0${type}\0${reason}\0${m}`;
    let id = identity(text);

    // Too many different messages for one (object, type, reason): one combined Event takes the rest.
    const simKey = `${ref.uid}\0${type}\0${reason}`;
    let sim = this.#similar.get(simKey);
    if (sim === undefined || now - sim.start > this.#similarMs) {
      sim = { start: now, ids: new Set() };
      this.#similar.set(simKey, sim);
    }
    const digest = createHash('sha256').update(id).digest('base64');
    if (!sim.ids.has(digest)) {
      if (sim.ids.size < this.#maxSimilar) sim.ids.add(digest);
      else {
        id = identity(COMBINED);
        text = truncate(`${COMBINED}: ${text}`, MAX_EVENT_MESSAGE);
      }
    }

    const queued = this.#queue.get(id);
    if (queued) {
      queued.count++;
      queued.lastAt = Math.max(queued.lastAt, now);
      queued.message = text;
      queued.ref = ref;
      if (options.action !== undefined) queued.action = options.action;
      this.#stats.coalesced++;
      return;
    }
    const known = this.#known.get(id) ?? { carry: 0, carryFirstAt: 0 };
    this.#known.set(id, known);
    if (!this.#allow(ref.uid, now)) {
      if (known.carry === 0) known.carryFirstAt = now;
      known.carry++;
      this.#stats.rateLimited++;
      this.#log.debug(`event ${reason} about ${ref.kind} ${ref.name}: rate-limited`);
      return;
    }
    if (this.#queue.size >= this.#queueSize) {
      this.#stats.queueFull++;
      if (!this.#warnedFull) this.#log.warn(`events: ${this.#queue.size} writes waiting; dropping new events until the queue drains`);
      this.#warnedFull = true;
      return;
    }
    const namespace = ref.namespace || 'default';
    this.#queue.set(id, {
      key: id,
      namespace,
      name: eventName(ref.name, id),
      ref,
      type,
      reason,
      message: text,
      ...(options.action !== undefined ? { action: options.action } : {}),
      count: 1 + known.carry,
      firstAt: known.carry > 0 ? known.carryFirstAt : now,
      lastAt: now,
    });
    known.carry = 0;
    this.#kick();
  }

  /** Takes one token from the object's bucket, if there is one. */
  #allow(uid: string, now: number): boolean {
    let b = this.#buckets.get(uid);
    if (b === undefined) b = { tokens: this.#burst, at: now };
    else {
      const refill = this.#refillMs > 0 ? Math.max(0, now - b.at) / this.#refillMs : Infinity;
      b.tokens = Math.min(this.#burst, b.tokens + refill);
      b.at = Math.max(b.at, now);
    }
    this.#buckets.set(uid, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Starts the writer on a later turn, so event() never runs the sink on its caller's stack. */
  #kick(): void {
    if (this.#running) return;
    this.#running = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.#drain())
      .finally(() => {
        this.#running = undefined;
        if (this.#queue.size > 0) this.#kick();
      });
  }

  async #drain(): Promise<void> {
    for (;;) {
      const next = this.#queue.values().next();
      if (next.done) break;
      const p = next.value;
      this.#queue.delete(p.key);
      try {
        await this.#write(p);
        this.#stats.written++;
      } catch (e) {
        this.#stats.failed++;
        this.#log.error(`event ${p.namespace}/${p.name} ${p.reason}: not written: ${errorMessage(e)}`);
      }
    }
    this.#warnedFull = false;
  }

  /** Creates the Event or adds to its count: an update with a resourceVersion, retried on conflict. */
  async #write(p: Pending): Promise<void> {
    const known = this.#known.get(p.key) ?? { carry: 0, carryFirstAt: 0 };
    this.#known.set(p.key, known);
    let cur = known.event;
    let last = '';
    for (let attempt = 0; attempt < 5; attempt++) {
      const r = cur === undefined ? await this.#sink.create(this.#fresh(p)) : await this.#sink.update(this.#added(cur, p));
      if (r.ok) {
        known.event = r.event;
        this.#log.debug(`${cur === undefined ? 'create' : 'update'} event ${p.namespace}/${p.name} ${p.reason} x${r.event.count} => ${r.event.metadata.resourceVersion}`);
        return;
      }
      // Taken, changed or gone meanwhile (another writer, the sweeper): start from what is stored.
      last = r.reason;
      known.event = undefined;
      cur = await this.#sink.get(p.namespace, p.name);
    }
    throw new Error(`gave up after 5 attempts (last: ${last})`);
  }

  #fresh(p: Pending): Event {
    const e: Event = {
      apiVersion: 'sandkasten.dev/v1',
      kind: 'Event',
      metadata: { name: p.name, namespace: p.namespace },
      involvedObject: p.ref,
      reason: p.reason,
      message: p.message,
      type: p.type,
      count: p.count,
      firstTimestamp: rfc3339(p.firstAt),
      lastTimestamp: rfc3339(p.lastAt),
      source: { component: this.#component },
      reportingComponent: this.#component,
    };
    if (p.action !== undefined) e.action = p.action;
    return e;
  }

  /** `cur` with p's occurrences added; an Event of another identity under the name is replaced. */
  #added(cur: Event, p: Pending): Event {
    const fresh = this.#fresh(p);
    const same = cur.involvedObject?.uid === p.ref.uid && cur.type === p.type && cur.reason === p.reason;
    if (!same || typeof cur.count !== 'number' || typeof cur.firstTimestamp !== 'string') {
      return { ...fresh, metadata: { ...fresh.metadata, resourceVersion: cur.metadata.resourceVersion } };
    }
    const last = Date.parse(cur.lastTimestamp) > p.lastAt ? cur.lastTimestamp : fresh.lastTimestamp;
    return {
      ...fresh,
      metadata: { ...fresh.metadata, resourceVersion: cur.metadata.resourceVersion },
      count: cur.count + p.count,
      firstTimestamp: cur.firstTimestamp,
      lastTimestamp: Date.parse(last) < Date.parse(cur.firstTimestamp) ? cur.firstTimestamp : last,
      ...(p.action === undefined && cur.action !== undefined ? { action: cur.action } : {}),
    };
  }
}
