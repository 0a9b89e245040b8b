// The TTL reaper: Sessions expire after spec.ttlSeconds without activity (0 or absent: the
// config's session_ttl_seconds) and, when set, spec.maxLifetimeSeconds after they were created.
// An expired Session gets status phase Expired (reason IdleTimeout or MaxLifetimeExceeded), an
// `Expired` Event, and is deleted; its finalizer removes the sandbox.
//
// It is a controller over the shared sessions informer: each reconcile computes the session's
// deadline and, when it lies ahead, parks the key until then (one timer per session, in the work
// queue) — no periodic scan. Deadlines are wall-clock times (timestamps in the objects are), while
// timers run on the monotonic clock; a watchdog compares the two every few seconds and, when the
// wall clock jumped (NTP step, resume from suspend), looks at every session again at once.
//
// The reaper also keeps status.expireTime (the earliest deadline) current as activity moves it,
// merge-patching only that field. It stays conservative and cheap: rewritten at once when it would
// claim a later expiry than the real one, and when the real one moved later, only once it drifted
// by a tenth of the TTL (between 1 s and 60 s) — an active session costs a write per drift, not
// one per activity update. A new session's first expireTime comes with the Session controller's
// first status write when it runs beside the reaper (firstWriteGraceMs).

import type { ResolvedConfig, Session } from '@sandkasten/api-schemas';
import { isConflict, isNotFound, type Client } from '../client/index.js';
import type { EventRecorder } from '../events/index.js';
import type { Controller, Manager, ReconcileContext, ReconcileResult } from '../runtime/index.js';
import { silentLogger, splitKey, type Logger } from '../runtime/index.js';

export type ExpiryReason = 'IdleTimeout' | 'MaxLifetimeExceeded';

export interface SessionDeadline {
  /** Milliseconds since the epoch when the session expires. */
  at: number;
  reason: ExpiryReason;
  /** The TTL in force, in seconds (spec.ttlSeconds, or the default). */
  ttlSeconds: number;
  /** Where the idle time counts from (lastActivityTime, else creationTimestamp), ms since the epoch. */
  idleSince: number;
}

/** The longest a key is parked: a safety net under the watchdog, and below setTimeout's 2^31 ms limit. */
const MAX_PARK_MS = 3_600_000;

/**
 * A timestamp as the latest instant it may stand for. Whole-second stamps (creationTimestamp, as
 * Kubernetes writes it) were rounded down when written; read as the start of their second, a 1 s
 * TTL could expire a session in its first milliseconds.
 */
function parseTime(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const t = Date.parse(s);
  if (!Number.isFinite(t)) return undefined;
  return /\.\d+(Z|[+-]\d\d:\d\d)$/i.test(s) ? t : t + 999;
}

/**
 * When `session` expires and why: the earlier of its idle deadline (last activity, or creation,
 * plus the TTL) and its lifetime deadline (creation plus spec.maxLifetimeSeconds). The Session
 * reconciler uses the same function for the status.expireTime it reports at Ready.
 */
export function sessionDeadline(session: Pick<Session, 'metadata' | 'spec' | 'status'>, defaultTtlSeconds: number): SessionDeadline {
  const created = parseTime(session.metadata.creationTimestamp) ?? 0;
  const activity = parseTime(session.status?.lastActivityTime);
  const idleSince = activity !== undefined && activity > created ? activity : created;
  const spec = session.spec ?? {};
  const ttlSeconds = spec.ttlSeconds !== undefined && spec.ttlSeconds > 0 ? spec.ttlSeconds : defaultTtlSeconds;
  const idle = idleSince + ttlSeconds * 1000;
  const life = spec.maxLifetimeSeconds !== undefined && spec.maxLifetimeSeconds > 0 ? created + spec.maxLifetimeSeconds * 1000 : Infinity;
  return life <= idle ? { at: life, reason: 'MaxLifetimeExceeded', ttlSeconds, idleSince } : { at: idle, reason: 'IdleTimeout', ttlSeconds, idleSince };
}

/** RFC 3339 in whole seconds (as Kubernetes writes times), rounded down: never later than `ms`. */
function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
}

/** status.expireTime for `session` as the reaper publishes it: its deadline, in whole seconds rounded down. */
export function expireTimeOf(session: Pick<Session, 'metadata' | 'spec' | 'status'>, defaultTtlSeconds: number): string {
  return rfc3339(sessionDeadline(session, defaultTtlSeconds).at);
}

/** "1h2m3s" */
function duration(ms: number): string {
  let s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return `${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${s}s`;
}

export interface ReaperOptions {
  client: Client;
  /** The reaper is added to it (before start); it shares the manager's sessions informer. */
  manager: Manager;
  /** session_ttl_seconds is the default idle TTL. */
  config: Pick<ResolvedConfig, 'session_ttl_seconds'>;
  recorder?: EventRecorder;
  logger?: Logger;
  /** Wall clock, ms since the epoch (default Date.now); tests move time with it. */
  clock?: () => number;
  /** How often the watchdog compares the wall clock with the monotonic one (default 5 s). */
  clockCheckMs?: number;
  /** A wall-clock deviation beyond this counts as a jump (default 2 s). */
  clockJumpMs?: number;
  /**
   * When the Session controller runs beside the reaper, its first status write carries
   * status.expireTime (expireTimeOf): a session it has not written yet (no status.phase) is left
   * to it for this long after creation — one write less per session — and published by the
   * reaper only if that write did not come. Default 0: published at once.
   */
  firstWriteGraceMs?: number;
}

/**
 * Registers the TTL reaper with `manager` (call before manager.start()) and returns its
 * controller (name "reaper", primary resource sessions). It stops with the manager.
 */
export function reaperController(options: ReaperOptions): Controller {
  const informer = options.manager.informer('sessions');
  let controller: Controller | undefined;
  const reaper = new Reaper(options, () => {
    // The wall clock jumped: every deadline may have passed or moved.
    for (const key of informer.keys()) controller?.queue.add(key);
  });
  controller = options.manager.addController({ name: 'reaper', for: 'sessions', reconciler: reaper, workers: 2 });
  return controller;
}

class Reaper {
  readonly #client: Client;
  readonly #defaultTtl: number;
  readonly #recorder: EventRecorder | undefined;
  readonly #log: Logger;
  readonly #clock: () => number;
  readonly #checkMs: number;
  readonly #jumpMs: number;
  readonly #graceMs: number;
  readonly #onClockJump: () => void;
  #watchdog: NodeJS.Timeout | undefined;

  constructor(options: ReaperOptions, onClockJump: () => void) {
    this.#client = options.client;
    this.#defaultTtl = options.config.session_ttl_seconds;
    this.#recorder = options.recorder;
    this.#log = options.logger ?? silentLogger;
    this.#clock = options.clock ?? Date.now;
    this.#checkMs = options.clockCheckMs ?? 5000;
    this.#jumpMs = options.clockJumpMs ?? 2000;
    this.#graceMs = options.firstWriteGraceMs ?? 0;
    this.#onClockJump = onClockJump;
  }

  /**
   * Started by the first reconcile (so only while there are sessions) and stopped with the
   * controller through its lifetime signal — the controller has no other stop hook.
   */
  #startWatchdog(signal: AbortSignal): void {
    if (this.#watchdog !== undefined || signal.aborted) return;
    let wall = this.#clock();
    let mono = performance.now();
    this.#watchdog = setInterval(() => {
      const w = this.#clock();
      const m = performance.now();
      const drift = w - wall - (m - mono);
      wall = w;
      mono = m;
      if (Math.abs(drift) > this.#jumpMs) {
        this.#log.warn(`reaper: the wall clock jumped by ${Math.round(drift)} ms; re-checking every session`);
        this.#onClockJump();
      }
    }, this.#checkMs);
    this.#watchdog.unref();
    signal.addEventListener('abort', () => clearInterval(this.#watchdog), { once: true });
  }

  async reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileResult | void> {
    this.#startWatchdog(ctx.signal);
    const cached = ctx.object as Session | undefined;
    if (cached === undefined || cached.metadata.deletionTimestamp) return;
    const now = this.#clock();
    const d = sessionDeadline(cached, this.#defaultTtl);
    if (d.at <= now) {
      await this.#expire(key, ctx);
      return;
    }
    if (this.#graceMs > 0 && !cached.status?.phase && !cached.status?.expireTime) {
      // creationTimestamp is in whole seconds: the grace may end up to a second early.
      const left = (parseTime(cached.metadata.creationTimestamp) ?? 0) + this.#graceMs - now;
      if (left > 0) return { requeueAfterMs: Math.min(d.at - now, left, MAX_PARK_MS) };
    }
    await this.#publishExpireTime(cached, d);
    return { requeueAfterMs: Math.min(d.at - now, MAX_PARK_MS) };
  }

  async #expire(key: string, ctx: ReconcileContext): Promise<void> {
    const { namespace, name } = splitKey(key);
    // Decide on the stored object, not the cache: activity may have arrived a moment ago.
    const s = await this.#client.tryGet('sessions', namespace, name);
    if (!s || s.metadata.deletionTimestamp) return;
    const now = this.#clock();
    const d = sessionDeadline(s, this.#defaultTtl);
    if (d.at > now) return; // the object changed, so the informer brings it back with the new deadline
    const message =
      d.reason === 'IdleTimeout'
        ? `idle for ${duration(now - d.idleSince)}, longer than its TTL of ${d.ttlSeconds} s`
        : `older than its maximum lifetime of ${s.spec?.maxLifetimeSeconds} s`;
    if (s.status?.phase !== 'Expired') {
      const conditions = (s.status?.conditions ?? []).map((c) =>
        c.type === 'Ready' ? { ...c, status: 'False' as const, reason: 'Expired', message, lastTransitionTime: c.status === 'False' ? c.lastTransitionTime : rfc3339(now) } : c,
      );
      try {
        // The resourceVersion makes it conditional: activity written meanwhile wins.
        await this.#client.patchStatus('sessions', namespace, name, {
          metadata: { resourceVersion: s.metadata.resourceVersion },
          status: { phase: 'Expired', reason: d.reason, message, conditions, expireTime: rfc3339(d.at) },
        });
      } catch (err) {
        if (isNotFound(err)) return;
        throw err; // a conflict retries with a fresh read
      }
      ctx.log.info(`expired: ${message}`);
      this.#recorder?.event(s, 'Normal', 'Expired', `${d.reason}: ${message}; deleting the session`);
    }
    try {
      await this.#client.delete('sessions', namespace, name, { preconditions: { uid: s.metadata.uid ?? '' } });
    } catch (err) {
      if (isNotFound(err)) return;
      if (isConflict(err)) return; // another session of the same name: its own deadline governs it
      throw err;
    }
  }

  /** Keeps status.expireTime close to the deadline (see the top of this file). */
  async #publishExpireTime(s: Session, d: SessionDeadline): Promise<void> {
    const published = parseTime(s.status?.expireTime);
    const want = Math.floor(d.at / 1000) * 1000;
    const tolerance = Math.min(60_000, Math.max(1000, d.ttlSeconds * 100));
    if (published !== undefined && published <= want + 999 && want - published <= tolerance) return;
    try {
      await this.#client.patchStatus('sessions', s.metadata.namespace ?? '', s.metadata.name ?? '', { status: { expireTime: rfc3339(d.at) } });
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }
}
