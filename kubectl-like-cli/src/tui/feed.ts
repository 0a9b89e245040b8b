// The sessions the TUI shows, kept current by the client's watch (list once, then changes; the
// watch itself resumes after disconnects and re-lists after 410). A failure the watch does not
// bridge (a refused list at start, 401, a malformed selector) is shown and retried with backoff.
// The watch bridges outages silently, so a light probe of /version tells the user when the
// daemon is unreachable.

import { isConnectionFailure, type SandboxClient, type Session } from '@sandkasten/client';
import { describeError } from '../errors.js';
import { sessionKey } from './format.js';

export interface FeedFilter {
  /** undefined: every namespace. */
  namespace?: string;
  labelSelector?: string;
}

export interface FeedSnapshot {
  filter: FeedFilter;
  /** By "ns/name". */
  sessions: ReadonlyMap<string, Session>;
  /** The first list has arrived. */
  loaded: boolean;
  /** Whether the daemon answers (as far as the last request or probe knows). */
  connected: boolean;
  /** What went wrong last (cleared by the next success). */
  error?: string;
}

const PROBE_INTERVAL_MS = 5000;
const MAX_BACKOFF_MS = 5000;

export class SessionFeed {
  private snap: FeedSnapshot;
  private readonly listeners = new Set<() => void>();
  private ac: AbortController | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private probing = false;
  private emitTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly client: SandboxClient,
    filter: FeedFilter,
  ) {
    this.snap = { filter, sessions: new Map(), loaded: false, connected: true };
  }

  /** Starts watching (again) with this filter; what was shown under the old one is dropped. */
  start(filter: FeedFilter = this.snap.filter): void {
    this.ac?.abort();
    const ac = new AbortController();
    this.ac = ac;
    this.snap = { filter, sessions: new Map(), loaded: false, connected: this.snap.connected };
    this.emitNow();
    void this.run(filter, ac.signal);
    if (!this.probeTimer) this.scheduleProbe();
  }

  stop(): void {
    this.stopped = true;
    this.ac?.abort();
    clearTimeout(this.probeTimer);
    clearTimeout(this.emitTimer);
  }

  getSnapshot = (): FeedSnapshot => this.snap;

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  /** A request made elsewhere (exec, delete, stats) failed to reach the daemon, or reached it. */
  reportConnection(ok: boolean, error?: unknown): void {
    if (ok) this.update({ connected: true, error: this.snap.connected ? this.snap.error : undefined });
    else this.update({ connected: false, error: connectionMessage(error) });
  }

  private async run(filter: FeedFilter, signal: AbortSignal): Promise<void> {
    const opts = {
      namespace: filter.namespace,
      allNamespaces: filter.namespace === undefined,
      labelSelector: filter.labelSelector || undefined,
      signal,
    };
    let rv: string | undefined;
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (rv === undefined) {
          const list = await this.client.list('sessions', opts);
          if (signal.aborted) return;
          rv = list.metadata.resourceVersion;
          const sessions = new Map<string, Session>();
          for (const s of list.items) sessions.set(sessionKey(s), s);
          this.update({ sessions, loaded: true, connected: true, error: undefined }, true);
        }
        const known = [...this.snap.sessions.values()];
        for await (const ev of this.client.watch('sessions', { ...opts, resourceVersion: rv, known })) {
          rv = ev.object.metadata.resourceVersion ?? rv;
          const sessions = new Map(this.snap.sessions);
          if (ev.type === 'DELETED') sessions.delete(sessionKey(ev.object));
          else sessions.set(sessionKey(ev.object), ev.object);
          failures = 0;
          this.update({ sessions, connected: true, error: undefined });
        }
        return; // the watch ends only when aborted
      } catch (e) {
        if (signal.aborted) return;
        failures++;
        if (isConnectionFailure(e)) this.update({ connected: false, error: connectionMessage(e) });
        else this.update({ error: describeError(e) }, true);
        // A malformed selector stays malformed: wait for a new filter rather than ask again.
        if ((e as Error).name === 'BadRequestError') return;
        // A failed list starts over; a failed watch resumes from where it was.
        await sleep(Math.min(MAX_BACKOFF_MS, 250 * 2 ** Math.min(failures - 1, 5)), signal);
      }
    }
  }

  private scheduleProbe(): void {
    if (this.stopped) return;
    this.probeTimer = setTimeout(() => void this.probe(), PROBE_INTERVAL_MS);
  }

  private async probe(): Promise<void> {
    if (this.probing || this.stopped) return;
    this.probing = true;
    try {
      await this.client.version({ signal: this.ac?.signal });
      if (!this.snap.connected) this.update({ connected: true, error: undefined });
    } catch (e) {
      if (!this.stopped && isConnectionFailure(e)) this.update({ connected: false, error: connectionMessage(e) });
    } finally {
      this.probing = false;
      this.scheduleProbe();
    }
  }

  private update(patch: Partial<FeedSnapshot>, now = false): void {
    this.snap = { ...this.snap, ...patch };
    if (now) this.emitNow();
    // Bursts of events (a re-list, many sessions starting) are drawn once.
    else if (!this.emitTimer) this.emitTimer = setTimeout(() => this.emitNow(), 30);
  }

  private emitNow(): void {
    clearTimeout(this.emitTimer);
    this.emitTimer = undefined;
    for (const fn of this.listeners) fn();
  }
}

function connectionMessage(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return `connection lost (${msg}) — reconnecting…`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
