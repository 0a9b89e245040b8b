// The GitOpsSync objects the TUI's GitOps view shows, kept current by the client's watch (list
// once, then changes), as SessionFeed keeps the sessions. Started the first time the view opens
// and kept running after, so coming back to it shows the current state at once. Liveness of the
// daemon is SessionFeed's business (its probe); this feed only reports its own failures.

import type { GitOpsSync } from '@sandkasten/api-schemas';
import type { SandboxClient, SandkastenObject } from '@sandkasten/client';
import { describeError } from '../errors.js';

export interface GitOpsSnapshot {
  /** By name (the kind is cluster-scoped). */
  syncs: ReadonlyMap<string, GitOpsSync>;
  loaded: boolean;
  error?: string;
}

const MAX_BACKOFF_MS = 5000;

export class GitOpsFeed {
  private snap: GitOpsSnapshot = { syncs: new Map(), loaded: false };
  private readonly listeners = new Set<() => void>();
  private ac: AbortController | undefined;

  constructor(private readonly client: SandboxClient) {}

  /** Starts the list and watch; does nothing when they already run. */
  start(): void {
    if (this.ac) return;
    this.ac = new AbortController();
    void this.run(this.ac.signal);
  }

  stop(): void {
    this.ac?.abort();
  }

  getSnapshot = (): GitOpsSnapshot => this.snap;

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  private async run(signal: AbortSignal): Promise<void> {
    let rv: string | undefined;
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (rv === undefined) {
          const list = await this.client.list('gitopssyncs', { signal });
          if (signal.aborted) return;
          rv = list.metadata.resourceVersion;
          const syncs = new Map<string, GitOpsSync>();
          for (const o of list.items) syncs.set(o.metadata.name ?? '', o as unknown as GitOpsSync);
          this.update({ syncs, loaded: true, error: undefined });
        }
        const known = [...this.snap.syncs.values()];
        for await (const ev of this.client.watch('gitopssyncs', { resourceVersion: rv, known: known as unknown as SandkastenObject[], signal })) {
          rv = ev.object.metadata.resourceVersion ?? rv;
          const syncs = new Map(this.snap.syncs);
          const name = ev.object.metadata.name ?? '';
          if (ev.type === 'DELETED') syncs.delete(name);
          else syncs.set(name, ev.object as unknown as GitOpsSync);
          failures = 0;
          this.update({ syncs, error: undefined });
        }
        return; // the watch ends only when aborted
      } catch (e) {
        if (signal.aborted) return;
        failures++;
        this.update({ error: `GitOps: ${describeError(e)}` });
        await sleep(Math.min(MAX_BACKOFF_MS, 250 * 2 ** Math.min(failures - 1, 5)), signal);
      }
    }
  }

  private update(patch: Partial<GitOpsSnapshot>): void {
    this.snap = { ...this.snap, ...patch };
    for (const fn of this.listeners) fn();
  }
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
