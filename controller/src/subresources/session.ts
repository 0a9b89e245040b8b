// Finding the sandbox behind a Session: the object (404 when absent, 409 until it is Ready), where
// its runner's socket and cgroup are, a pooled runner client per sandbox, and the throttled
// activity write every subresource call makes.

import type { Session } from '@sandkasten/api-schemas';
import { ApiError } from '../apiserver/errors.js';
import type { Logger } from '../apiserver/logger.js';
import { nowRfc3339 } from '../apiserver/registry.js';
import { GROUP } from '../apiserver/resources.js';
import type { Client } from '../client/index.js';
import { RunnerClient } from '../runner/index.js';
import { agentRoot, cgroupPath, containerId, sessionPaths } from '../sandbox/paths.js';

/** Where a Ready session's sandbox is on this host. */
export interface SandboxLocation {
  /** The runner's unix socket as the host sees it. */
  socketPath: string;
  /** The sandbox's cgroup path, relative to each hierarchy's root ("/sandkasten/sk-<uid>"). */
  cgroup: string;
  /** The node-agent container id. */
  containerId: string;
  /** node-agent's --root for this data_dir. */
  agentRoot: string;
}

export type SandboxLocator = (session: Session) => SandboxLocation;

/** The host layout the session reconciler uses (sandbox/paths.ts), preferring what status reports. */
export function defaultLocator(dataDir: string): SandboxLocator {
  const root = agentRoot(dataDir);
  return (s) => {
    const uid = s.metadata.uid!;
    const sb = s.status?.sandbox;
    const socket = sb?.runnerSocket?.replace(/^unix:\/\//, '');
    return {
      socketPath: socket || sessionPaths(dataDir, uid).socket,
      cgroup: sb?.cgroup || cgroupPath(uid),
      containerId: sb?.id || containerId(uid),
      agentRoot: root,
    };
  };
}

const target = (name: string) => ({ name, group: GROUP, kind: 'sessions' });

function notFound(name: string): ApiError {
  return new ApiError(404, 'NotFound', `sessions.${GROUP} "${name}" not found`, target(name));
}

/** 409 for a session whose sandbox cannot serve calls (yet, or any more). */
function notReady(s: Session): ApiError {
  const name = s.metadata.name!;
  const phase = s.status?.phase ?? 'Pending';
  const why = s.status?.message || s.status?.reason;
  let msg: string;
  if (s.metadata.deletionTimestamp) msg = `session ${name} is Terminating`;
  else if (phase === 'Pending' || phase === 'Starting') msg = `session ${name} is ${phase}; wait for condition Ready`;
  else msg = `session ${name} is ${phase}${why ? `: ${why}` : ''}`;
  return new ApiError(409, 'Conflict', msg, target(name));
}

/** A Ready session and its sandbox. */
export interface ReadySession {
  session: Session;
  location: SandboxLocation;
  runner: RunnerClient;
}

export interface SessionResolverOptions {
  client: Client;
  locate: SandboxLocator;
  logger: Logger;
  /** Idle runner clients (and their pooled connections) are dropped after this long. Default 60 s. */
  idleMs?: number;
}

interface PooledRunner {
  runner: RunnerClient;
  socketPath: string;
  lastUsed: number;
}

/**
 * Looks sessions up and keeps one RunnerClient per sandbox (its idle connections make an exec
 * round trip cost no connect). Clients unused for idleMs are closed.
 */
export class SessionResolver {
  readonly #client: Client;
  readonly #locate: SandboxLocator;
  readonly #idleMs: number;
  readonly #runners = new Map<string, PooledRunner>();
  #sweeper: NodeJS.Timeout | undefined;

  constructor(o: SessionResolverOptions) {
    this.#client = o.client;
    this.#locate = o.locate;
    this.#idleMs = o.idleMs ?? 60_000;
  }

  /** The session if it is Ready; 404 when absent, 409 (with its phase) otherwise. */
  async ready(namespace: string, name: string): Promise<ReadySession> {
    const session = await this.#client.tryGet('sessions', namespace, name);
    if (!session) throw notFound(name);
    if (session.metadata.deletionTimestamp || session.status?.phase !== 'Ready') throw notReady(session);
    const location = this.#locate(session);
    return { session, location, runner: this.#runner(session.metadata.uid!, location.socketPath) };
  }

  #runner(uid: string, socketPath: string): RunnerClient {
    const now = Date.now();
    let p = this.#runners.get(uid);
    if (p && p.socketPath !== socketPath) {
      p.runner.close();
      p = undefined;
    }
    if (!p) {
      p = { runner: new RunnerClient(socketPath, { connectTimeoutMs: 2000 }), socketPath, lastUsed: now };
      this.#runners.set(uid, p);
      this.#sweep();
    }
    p.lastUsed = now;
    return p.runner;
  }

  #sweep(): void {
    if (this.#sweeper) return;
    this.#sweeper = setInterval(() => {
      const cut = Date.now() - this.#idleMs;
      for (const [uid, p] of this.#runners) {
        if (p.lastUsed < cut) {
          p.runner.close();
          this.#runners.delete(uid);
        }
      }
      if (this.#runners.size === 0) {
        clearInterval(this.#sweeper);
        this.#sweeper = undefined;
      }
    }, Math.max(1000, this.#idleMs / 2));
    this.#sweeper.unref();
  }

  close(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    for (const p of this.#runners.values()) p.runner.close();
    this.#runners.clear();
  }
}

/**
 * Records activity on sessions: status.lastActivityTime, written at most once per session per
 * intervalMs, in the background. A failed write is logged, never reported to the caller.
 */
export class ActivityRecorder {
  readonly #client: Client;
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #last = new Map<string, number>();

  constructor(client: Client, logger: Logger, intervalMs = 1000) {
    this.#client = client;
    this.#logger = logger;
    this.#intervalMs = intervalMs;
  }

  touch(session: Session): void {
    const uid = session.metadata.uid!;
    const now = Date.now();
    const last = this.#last.get(uid);
    if (last !== undefined && now - last < this.#intervalMs) return;
    this.#last.set(uid, now);
    if (this.#last.size > 1024) {
      for (const [k, t] of this.#last) if (now - t >= this.#intervalMs) this.#last.delete(k);
    }
    const ns = session.metadata.namespace ?? 'default';
    const name = session.metadata.name!;
    // metadata.uid makes a session re-created under the same name refuse the write (immutable uid).
    const patch = { metadata: { uid }, status: { lastActivityTime: nowRfc3339() } };
    // After the current call got going: the write must not sit in front of the call's own work.
    setImmediate(() => {
      this.#client.patchStatus('sessions', ns, name, patch).catch((e: unknown) => {
        this.#logger.debug(`session ${ns}/${name}: recording activity failed: ${(e as Error).message}`);
      });
    });
  }
}
