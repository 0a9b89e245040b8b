// What the /v1 handlers share: the API client and store, the session resolver and activity
// recorder of the subresources, the last working directory seen per session, the per-session exec
// queue, and the lookup that turns "this id cannot be used" into the original's error codes.

import type { ResolvedConfig, Session } from '@sandkasten/api-schemas';
import { ApiError } from '../apiserver/errors.js';
import type { Logger } from '../apiserver/logger.js';
import type { Client } from '../client/index.js';
import type { Store } from '../store/types.js';
import type { ActivityRecorder, ReadySession, SessionResolver } from '../subresources/session.js';
import { checkSessionId } from './body.js';
import { ErrorCode, SeedError } from './errors.js';

/** The namespace /v1 sessions and workspaces live in. */
export const V1_NAMESPACE = 'default';

export interface FacadeContext {
  client: Client;
  store: Store;
  config: ResolvedConfig;
  dataDir: string;
  logger: Logger;
  resolver: SessionResolver;
  activity: ActivityRecorder;
  lookup: SessionLookup;
  /** Per session uid: the working directory after its last /v1 exec. */
  cwds: Map<string, string>;
  execQueue: ExecQueue;
  /** How long a create waits for Ready, and a delete for the object to go. */
  createTimeoutMs: number;
  deleteTimeoutMs: number;
}

export const notFound = (id: string, why = '') => new SeedError(404, ErrorCode.SessionNotFound, `session not found: ${id}${why}`);
export const expired = (id: string, why?: string) => new SeedError(410, ErrorCode.SessionExpired, `session expired: ${id}${why ? ` (${why})` : ''}`);

/** Finds sessions by /v1 id and says why one cannot be used. */
export class SessionLookup {
  constructor(
    private readonly client: Client,
    private readonly resolver: SessionResolver,
  ) {}

  /** A Ready session and its runner; else SESSION_NOT_FOUND, SESSION_EXPIRED or SESSION_NOT_RUNNING. */
  async ready(id: string): Promise<ReadySession> {
    checkSessionId(id);
    try {
      return await this.resolver.ready(V1_NAMESPACE, id);
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 409)) throw await this.unusable(id);
      throw e;
    }
  }

  /** The session, any phase; SESSION_NOT_FOUND / SESSION_EXPIRED when there is none. */
  async get(id: string): Promise<Session> {
    checkSessionId(id);
    const s = await this.client.tryGet('sessions', V1_NAMESPACE, id);
    if (s) return s;
    throw (await this.wasExpired(id)) ? expired(id) : notFound(id);
  }

  /** Why session `id` cannot take calls now. */
  async unusable(id: string): Promise<SeedError> {
    const s = await this.client.tryGet('sessions', V1_NAMESPACE, id);
    if (!s) return (await this.wasExpired(id)) ? expired(id) : notFound(id);
    if (s.status?.phase === 'Expired') return expired(id, s.status.message);
    if (s.metadata.deletionTimestamp) return notFound(id, ' (it is being destroyed)');
    const phase = s.status?.phase ?? 'Pending';
    const why = phase === 'Failed' ? `: ${s.status?.message ?? s.status?.reason ?? 'failed'}` : '; wait until it is running';
    return new SeedError(409, ErrorCode.SessionNotRunning, `session ${id} is not running (status ${seedStatus(s)})${why}`, { status: seedStatus(s) });
  }

  /**
   * Was a session of this name expired by the TTL reaper? Its `Expired` Event outlives it (for
   * event_ttl_seconds), so the answer survives restarts without a tombstone of our own.
   */
  async wasExpired(id: string): Promise<boolean> {
    const { items } = await this.client.list('events', V1_NAMESPACE, {
      fieldSelector: `involvedObject.kind=Session,involvedObject.name=${id},reason=Expired`,
    });
    return items.length > 0;
  }
}

/** The original's session status for a Session's phase. */
export function seedStatus(s: Session): string {
  const phase = s.status?.phase;
  if (phase === 'Expired') return 'expired';
  if (s.metadata.deletionTimestamp || phase === 'Terminating') return 'destroying';
  switch (phase) {
    case 'Ready':
      return 'running';
    case 'Failed':
      return 'failed';
    default:
      return 'starting';
  }
}

/**
 * Execs of one session, one after the other: the original queued a second exec behind a running
 * one, where the runner answers BUSY. A caller that leaves while queued is dropped from the queue.
 */
export class ExecQueue {
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs fn after the session's earlier execs; rejects (without running) if the signal aborts first. */
  async run<T>(uid: string, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    const before = this.#tails.get(uid) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = before.then(() => mine);
    this.#tails.set(uid, tail);
    try {
      await new Promise<void>((resolve, reject) => {
        if (signal.aborted) return reject(signal.reason);
        const onAbort = () => reject(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        void before.then(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        });
      });
      return await fn();
    } finally {
      // A caller that left while queued releases its turn at once: the next waits only on `before`.
      release();
      if (this.#tails.get(uid) === tail) this.#tails.delete(uid);
    }
  }
}
