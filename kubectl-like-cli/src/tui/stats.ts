// Resource use of the sessions on screen: GET …/sessions/NAME/stats for each Ready one, every few
// seconds, a few at a time. CPU is a rate, so it needs two readings: the difference in
// usageNanoseconds over the difference in the server's timestamps.

import { resolveKind, resourcePath, type SandboxClient } from '@sandkasten/client';

/** The stats subresource's answer (the parts the TUI uses). */
export interface SessionStats {
  timestamp: string;
  cpu?: { usageNanoseconds?: number | null; limitCores?: number | null };
  memory?: { usageBytes?: number | null; limitBytes?: number | null; oomKills?: number | null };
  pids?: { current?: number | null; limit?: number | null };
}

export interface Usage {
  /** Millicores over the last interval (undefined until two readings). */
  cpuMillicores?: number;
  cpuLimitCores?: number | null;
  memoryBytes?: number | null;
  memoryLimitBytes?: number | null;
  pids?: number | null;
  pidsLimit?: number | null;
  oomKills?: number | null;
}

export interface StatsTarget {
  namespace: string;
  name: string;
  uid: string;
}

const SESSIONS = resolveKind('sessions');
const CONCURRENCY = 4;
const FORGET_AFTER_MS = 60_000;

/** Reads one session's stats; errors carry the server's message. */
export async function fetchStats(client: SandboxClient, namespace: string, name: string, signal?: AbortSignal): Promise<SessionStats> {
  const res = await client.transport.request({
    method: 'GET',
    // Watching a session must not keep it alive: a monitor's read is not activity.
    path: resourcePath(SESSIONS, namespace, name, 'stats'),
    query: { activity: 'false' },
    idempotent: true,
    timeoutMs: 5000,
    signal,
  });
  const text = res.body.toString('utf8');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`stats of ${namespace}/${name}: the server answered ${res.status} with a body that is not JSON`);
  }
  if (res.status !== 200) {
    const msg = (body as { message?: unknown } | null)?.message;
    throw new Error(typeof msg === 'string' ? msg : `stats of ${namespace}/${name}: HTTP ${res.status}`);
  }
  return body as SessionStats;
}

/** CPU millicores between two readings (undefined when they cannot be compared). */
export function cpuMillicores(prev: SessionStats | undefined, cur: SessionStats): number | undefined {
  const a = prev?.cpu?.usageNanoseconds;
  const b = cur.cpu?.usageNanoseconds;
  if (typeof a !== 'number' || typeof b !== 'number' || b < a) return undefined;
  const dtMs = Date.parse(cur.timestamp) - Date.parse(prev!.timestamp);
  if (!(dtMs > 0)) return undefined;
  // ns of CPU per ns of wall time = cores; ×1000 = millicores.
  return (b - a) / (dtMs * 1e6) * 1000;
}

/**
 * Polls the stats of the targets it is given (the Ready sessions on screen), one round every
 * interval, a few requests at a time. Readings of sessions that are no longer targets are dropped.
 */
export class StatsPoller {
  private targets: StatsTarget[] = [];
  private readonly last = new Map<string, SessionStats>();
  private readonly usage = new Map<string, Usage>();
  /** When each uid was last a target. */
  private readonly seen = new Map<string, number>();
  private readonly listeners = new Set<() => void>();
  private readonly ac = new AbortController();
  private wake: (() => void) | undefined;
  private started = false;

  constructor(
    private readonly client: SandboxClient,
    private readonly intervalMs = 3000,
  ) {}

  start(): void {
    if (this.started) return;
    this.started = true;
    void this.loop();
  }

  stop(): void {
    this.ac.abort();
    this.wake?.();
  }

  /**
   * The sessions to poll. A new one is read at once, so its CPU shows one interval later.
   * Readings of sessions off screen are kept a while (scrolling back, a filter changed back).
   */
  setTargets(targets: StatsTarget[]): void {
    const was = new Set(this.targets.map((t) => t.uid));
    this.targets = targets;
    const now = Date.now();
    for (const t of targets) this.seen.set(t.uid, now);
    for (const [uid, at] of this.seen) {
      if (now - at < FORGET_AFTER_MS) continue;
      this.seen.delete(uid);
      this.last.delete(uid);
      this.usage.delete(uid);
    }
    if (targets.some((t) => !was.has(t.uid) && !this.last.has(t.uid))) this.wake?.();
  }

  get(uid: string | undefined): Usage | undefined {
    return uid ? this.usage.get(uid) : undefined;
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private async loop(): Promise<void> {
    while (!this.ac.signal.aborted) {
      await this.poll();
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, this.intervalMs);
        function done() {
          clearTimeout(t);
          resolve();
        }
        this.wake = done;
      });
      this.wake = undefined;
    }
  }

  private async poll(): Promise<void> {
    const queue = [...this.targets];
    let changed = false;
    const worker = async () => {
      for (let t = queue.shift(); t; t = queue.shift()) {
        try {
          const s = await fetchStats(this.client, t.namespace, t.name, this.ac.signal);
          const prev = this.last.get(t.uid);
          this.last.set(t.uid, s);
          this.usage.set(t.uid, {
            cpuMillicores: cpuMillicores(prev, s) ?? this.usage.get(t.uid)?.cpuMillicores,
            cpuLimitCores: s.cpu?.limitCores,
            memoryBytes: s.memory?.usageBytes,
            memoryLimitBytes: s.memory?.limitBytes,
            pids: s.pids?.current,
            pidsLimit: s.pids?.limit,
            oomKills: s.memory?.oomKills,
          });
          changed = true;
        } catch {
          // A session that stopped being Ready since the last list answers 409, and a lost
          // connection is reported by the feed: the cell just keeps its last reading.
          if (this.ac.signal.aborted) return;
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    if (changed) for (const fn of this.listeners) fn();
  }
}
