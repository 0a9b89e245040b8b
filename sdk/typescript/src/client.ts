// SandboxClient: typed access to the sandkasten.dev/v1 resources over the REST API — get, list,
// a watch that survives disconnects and compaction, create/replace/patch/apply/delete, and waits
// built on the watch. Session-level operations (exec, files, stats, terminal) are in session.ts,
// on the same transport; the session calls of the original SDK (createSession …) are here.

import type { Condition, ResourceInfo, Status, Workspace } from '@sandkasten/api-schemas';
import { ApiError, GoneError, NotFoundError, TimeoutError, clientTimeout, errorFromStatus, parseStatus } from './errors.js';
import {
  qualifiedName,
  resolveKind,
  resolveManifestKind,
  resourcePath,
  type KindRef,
  type ObjectList,
  type ObjectOf,
  type ObjectLike,
} from './kinds.js';
import { Transport, abortableSleep, isConnectionFailure, type HttpRequest, type QueryValue, type RetryOptions, type TlsOptions } from './transport.js';
import { KnownSet, parseEventLines, type BookmarkEvent, type ObjectEvent, type WatchEvent } from './watch.js';
import { createSession, getSession, listSessions, type CreateSessionOptions, type ListSessionsOptions, type SandboxSession } from './session.js';

export interface ClientOptions {
  /** The daemon's URL, e.g. http://127.0.0.1:8080 or https://sandbox.example:8443. */
  baseUrl: string;
  /** The daemon's api_key; sent as a bearer token. */
  apiKey?: string;
  /** Namespace of namespaced kinds when a call names none (default "default"). */
  namespace?: string;
  tls?: TlsOptions;
  /** Deadline of one request, retries included (default 30 s; 0: none). */
  timeoutMs?: number;
  retry?: RetryOptions;
  /** Called with each warning the server sends (e.g. unknown fields that were dropped). */
  onWarning?: (message: string) => void;
  userAgent?: string;
}

/** A label or field selector: "a=b,c!=d,e in (f,g)" or { a: 'b' } (equality only). */
export type Selector = string | Record<string, string>;

interface Common {
  /** Namespace of a namespaced kind (default: the client's). Ignored for cluster-scoped kinds. */
  namespace?: string;
  signal?: AbortSignal;
}

export type GetOptions = Common;

export interface ListOptions extends Common {
  /** Every namespace (namespaced kinds). */
  allNamespaces?: boolean;
  labelSelector?: Selector;
  fieldSelector?: Selector;
  limit?: number;
  /** metadata.continue of the previous page. */
  continue?: string;
}

export interface WatchOptions<T> extends Common {
  allNamespaces?: boolean;
  labelSelector?: Selector;
  fieldSelector?: Selector;
  /**
   * Start strictly after this resourceVersion. Without it the watch lists first and reports the
   * current state as ADDED events.
   */
  resourceVersion?: string;
  /**
   * Every object the caller holds at `resourceVersion` (e.g. from its own list). With it, a
   * re-list after 410 reports those that went away as DELETED, and a filtered watch reports an
   * object that starts matching as ADDED and never reports DELETED for one the caller never had.
   */
  known?: readonly T[];
  /** Also yield BOOKMARK events (progress marks). */
  bookmarks?: boolean;
}

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

export interface WriteOptions extends Common {
  /** Validate and return the result without storing anything (dryRun=All). */
  dryRun?: boolean;
  /** Unknown fields: reject (Strict), drop with a warning (Warn, the default), drop (Ignore). */
  fieldValidation?: FieldValidation;
}

export interface ReplaceOptions extends WriteOptions {
  /** Replace the status (what controllers do) instead of the object. */
  subresource?: 'status';
}

export interface PatchOptions extends WriteOptions {
  /** merge: RFC 7386 JSON merge patch (default); json: RFC 6902 JSON patch. */
  type?: 'merge' | 'json';
  subresource?: 'status';
}

export interface ApplyOptions extends WriteOptions {
  /** Whose manifest this is; apply removes fields this manager applied before and no longer names. */
  fieldManager?: string;
  /** Sent as force=true (the server always lets apply win). */
  force?: boolean;
  subresource?: 'status';
}

export interface DeleteOptions extends Common {
  dryRun?: boolean;
  /** Delete only if the object still has this uid / resourceVersion (409 otherwise). */
  preconditions?: { uid?: string; resourceVersion?: string };
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  gracePeriodSeconds?: number;
}

export interface WaitOptions<T> extends Common {
  /**
   * A condition type that must be "True" ("Ready"), "Type=Status" ("Ready=False"), or a
   * predicate over the object.
   */
  condition: string | ((obj: T) => boolean);
  /** Give up after this long with a TimeoutError (default 30 s; 0: wait forever). */
  timeoutMs?: number;
}

export interface WaitForDeletionOptions extends Common {
  /** Only this incarnation: an object of the same name but another uid counts as deleted. */
  uid?: string;
  timeoutMs?: number;
}

export interface VersionInfo {
  major: string;
  minor: string;
  gitVersion: string;
  platform?: string;
  [field: string]: unknown;
}

const DEFAULT_FIELD_MANAGER = 'sandkasten-client';
const DEFAULT_WAIT_MS = 30_000;
const MAX_RECONNECT_DELAY_MS = 5_000;

export class SandboxClient implements AsyncDisposable {
  /** The namespace calls use when they name none. */
  readonly namespace: string;
  /** The HTTP layer, for requests this class does not cover. */
  readonly transport: Transport;
  private readonly onWarning: ((message: string) => void) | undefined;

  constructor(opts: ClientOptions) {
    this.transport = new Transport(opts);
    this.namespace = opts.namespace ?? 'default';
    this.onWarning = opts.onWarning;
  }

  /** Closes idle connections. The client stays usable (new connections are opened as needed). */
  close(): void {
    this.transport.close();
  }

  /** `await using client = new SandboxClient(…)`: closes idle connections when the block ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  /** Passes the server's warnings to onWarning (for requests made through `transport`). */
  reportWarnings(warnings: readonly string[]): void {
    if (this.onWarning) for (const w of warnings) this.onWarning(w);
  }

  // ---- sessions, as the original SDK offered them ----

  /**
   * Creates a Session and waits until it is Ready. A session that fails or is refused (a missing
   * image, a spec the daemon will not run) is deleted and SessionStartError thrown with the
   * controller's message; TimeoutError when it is not Ready within `timeoutMs` (default 120 s).
   */
  createSession(opts: CreateSessionOptions = {}): Promise<SandboxSession> {
    return createSession(this, opts);
  }

  /** A Session by name (NotFoundError if there is none). */
  getSession(name: string, opts: { namespace?: string; signal?: AbortSignal } = {}): Promise<SandboxSession> {
    return getSession(this, name, opts);
  }

  /** The Sessions of a namespace (or all of them). */
  listSessions(opts: ListSessionsOptions = {}): Promise<SandboxSession[]> {
    return listSessions(this, opts);
  }

  /** The Workspaces of a namespace (or all of them). */
  async listWorkspaces(opts: ListSessionsOptions = {}): Promise<Workspace[]> {
    return (await this.list('workspaces', opts)).items;
  }

  /** Deletes a Workspace and waits until it is gone (its finalizer removes the data of a Delete-policy one). */
  async deleteWorkspace(name: string, opts: { namespace?: string; timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    let uid: string | undefined;
    try {
      uid = (await this.delete('workspaces', name, opts)).metadata.uid;
    } catch (e) {
      if (e instanceof NotFoundError) return;
      throw e;
    }
    await this.waitForDeletion('workspaces', name, { namespace: opts.namespace, uid, timeoutMs: opts.timeoutMs ?? 60_000, signal: opts.signal });
  }

  /** The server's /version. */
  async version(opts: { signal?: AbortSignal } = {}): Promise<VersionInfo> {
    return this.call<VersionInfo>({ method: 'GET', path: '/version', idempotent: true, signal: opts.signal });
  }

  async get<K extends KindRef>(kind: K, name: string, opts: GetOptions = {}): Promise<ObjectOf<K>> {
    const info = resolveKind(kind);
    const path = resourcePath(info, this.ns(info, opts.namespace), name);
    return this.call({ method: 'GET', path, idempotent: true, signal: opts.signal });
  }

  async list<K extends KindRef>(kind: K, opts: ListOptions = {}): Promise<ObjectList<ObjectOf<K>>> {
    const info = resolveKind(kind);
    const path = resourcePath(info, opts.allNamespaces ? undefined : this.ns(info, opts.namespace));
    const query = {
      labelSelector: selectorString(opts.labelSelector),
      fieldSelector: selectorString(opts.fieldSelector),
      limit: opts.limit,
      continue: opts.continue,
    };
    return this.call({ method: 'GET', path, query, idempotent: true, signal: opts.signal });
  }

  async create<T extends ObjectLike>(obj: T, opts: WriteOptions = {}): Promise<T> {
    const info = resolveManifestKind(obj);
    const path = resourcePath(info, this.ns(info, opts.namespace ?? obj.metadata?.namespace));
    // Not retried after a reset: the object may have been created; ECONNREFUSED is still retried.
    return this.call({ method: 'POST', path, query: writeQuery(opts), body: JSON.stringify(obj), contentType: 'application/json', signal: opts.signal });
  }

  /** PUT: replaces the object; a metadata.resourceVersion makes it conditional (409 if stale). */
  async replace<T extends ObjectLike>(obj: T, opts: ReplaceOptions = {}): Promise<T> {
    const info = resolveManifestKind(obj);
    const path = resourcePath(info, this.ns(info, opts.namespace ?? obj.metadata?.namespace), nameOf(obj), opts.subresource);
    return this.call({
      method: 'PUT',
      path,
      query: writeQuery(opts),
      body: JSON.stringify(obj),
      contentType: 'application/json',
      idempotent: obj.metadata?.resourceVersion !== undefined,
      signal: opts.signal,
    });
  }

  async patch<K extends KindRef>(kind: K, name: string, patch: unknown, opts: PatchOptions = {}): Promise<ObjectOf<K>> {
    const info = resolveKind(kind);
    const type = opts.type ?? 'merge';
    if (type !== 'merge' && type !== 'json') throw new TypeError(`unsupported patch type ${JSON.stringify(type)}: use "merge" or "json"`);
    return this.call({
      method: 'PATCH',
      path: resourcePath(info, this.ns(info, opts.namespace), name, opts.subresource),
      query: writeQuery(opts),
      body: JSON.stringify(patch),
      contentType: type === 'merge' ? 'application/merge-patch+json' : 'application/json-patch+json',
      // Applying a merge patch twice gives the same object; a JSON patch may not (an "add" to a list).
      idempotent: type === 'merge',
      signal: opts.signal,
    });
  }

  /**
   * Server-side apply: creates the object or merges the manifest into it, removing fields this
   * field manager applied before and no longer names. Re-applying an unchanged manifest writes
   * nothing (the resourceVersion stays).
   */
  async apply<T extends ObjectLike>(manifest: T, opts: ApplyOptions = {}): Promise<T> {
    const info = resolveManifestKind(manifest);
    const path = resourcePath(info, this.ns(info, opts.namespace ?? manifest.metadata?.namespace), nameOf(manifest), opts.subresource);
    return this.call({
      method: 'PATCH',
      path,
      query: { ...writeQuery(opts), fieldManager: opts.fieldManager ?? DEFAULT_FIELD_MANAGER, force: opts.force ? 'true' : undefined },
      // YAML is a superset of JSON.
      body: JSON.stringify(manifest),
      contentType: 'application/apply-patch+yaml',
      idempotent: true,
      signal: opts.signal,
    });
  }

  /**
   * Deletes the object. Without finalizers it is gone when this returns (its last state is
   * returned); with finalizers it is returned with metadata.deletionTimestamp set and goes once
   * they are removed (see waitForDeletion).
   */
  async delete<K extends KindRef>(kind: K, name: string, opts: DeleteOptions = {}): Promise<ObjectOf<K>> {
    const info = resolveKind(kind);
    const body: Record<string, unknown> = { kind: 'DeleteOptions', apiVersion: 'v1' };
    if (opts.preconditions) body.preconditions = opts.preconditions;
    if (opts.propagationPolicy) body.propagationPolicy = opts.propagationPolicy;
    if (opts.gracePeriodSeconds !== undefined) body.gracePeriodSeconds = opts.gracePeriodSeconds;
    return this.call({
      method: 'DELETE',
      path: resourcePath(info, this.ns(info, opts.namespace), name),
      query: { dryRun: opts.dryRun ? 'All' : undefined },
      body: JSON.stringify(body),
      contentType: 'application/json',
      idempotent: true,
      signal: opts.signal,
    });
  }

  /**
   * Changes to the objects of a kind, as an async iterator: the current state first (ADDED), then
   * every change. Disconnects (a daemon restart) are bridged by resuming after the last
   * resourceVersion seen; when that history is gone (410 Expired) the watch lists again and
   * reports the difference as ADDED/MODIFIED/DELETED events, so a consumer that applies events in
   * order converges. Ends when `signal` aborts or the consumer stops iterating; throws on errors
   * other than disconnects (e.g. 401).
   */
  watch<K extends KindRef>(kind: K, opts: WatchOptions<ObjectOf<K>> & { bookmarks: true }): AsyncGenerator<WatchEvent<ObjectOf<K>>, void, undefined>;
  watch<K extends KindRef>(kind: K, opts?: WatchOptions<ObjectOf<K>>): AsyncGenerator<ObjectEvent<ObjectOf<K>>, void, undefined>;
  async *watch<K extends KindRef>(kind: K, opts: WatchOptions<ObjectOf<K>> = {}): AsyncGenerator<WatchEvent<ObjectOf<K>>, void, undefined> {
    type T = ObjectOf<K>;
    const info = resolveKind(kind);
    const namespace = opts.allNamespaces ? undefined : this.ns(info, opts.namespace);
    const selectors = { labelSelector: selectorString(opts.labelSelector), fieldSelector: selectorString(opts.fieldSelector) };
    const listOpts: ListOptions = { ...selectors, namespace, allNamespaces: namespace === undefined, signal: opts.signal };
    const known = new KnownSet<T>(opts.known);
    const signal = opts.signal;
    let rv = opts.resourceVersion === '0' || opts.resourceVersion === '' ? undefined : opts.resourceVersion;
    // Whether the watch knows everything the consumer was told (it listed, or was given `known`):
    // then events can be checked against it (see KnownSet.normalize).
    const complete = rv === undefined || opts.known !== undefined;
    let failures = 0;

    const relist = async (): Promise<ObjectEvent<T>[]> => {
      for (;;) {
        try {
          const l = await this.list(kind, listOpts);
          rv = l.metadata.resourceVersion!;
          failures = 0;
          return known.diff(l.items);
        } catch (e) {
          if (!retriable(e)) throw e;
          await abortableSleep(backoff(++failures), signal);
        }
      }
    };

    try {
      if (rv === undefined) {
        // The first list has no one to retry for yet: a daemon that is down is the caller's news.
        const l = await this.list(kind, listOpts);
        rv = l.metadata.resourceVersion!;
        for (const ev of known.diff(l.items)) yield ev;
      }
      for (;;) {
        if (signal?.aborted) return;
        let gone = false;
        let res;
        try {
          res = await this.transport.stream({
            method: 'GET',
            path: resourcePath(info, namespace),
            query: { ...selectors, watch: '1', resourceVersion: rv, allowWatchBookmarks: 'true' },
            idempotent: true,
            signal,
          });
        } catch (e) {
          if (!retriable(e)) throw e;
          await abortableSleep(backoff(++failures), signal);
          continue;
        }
        try {
          if (res.status === 410) gone = true;
          else if (res.status !== 200) throw errorFromStatus(parseStatus(res.status, await res.text()));
          else {
            let received = false;
            for await (const ev of parseEventLines(res.body)) {
              if (!received) {
                received = true;
                failures = 0;
              }
              if (ev.type === 'ERROR') {
                const err = errorFromStatus({ ...ev.object, code: ev.object.code ?? 500 });
                if (err instanceof GoneError) {
                  gone = true;
                  break;
                }
                throw err;
              }
              if (ev.type === 'BOOKMARK') {
                rv = ev.object.metadata.resourceVersion;
                if (opts.bookmarks) yield ev as BookmarkEvent;
                continue;
              }
              const oe = ev as ObjectEvent<T>;
              rv = oe.object.metadata.resourceVersion!;
              if (!complete) {
                known.record(oe);
                yield oe;
                continue;
              }
              const out = known.normalize(oe);
              if (out) yield out;
            }
            // A clean end (the server closing, timeoutSeconds): resume at once, unless nothing
            // came at all, which counts as a failure so a server that keeps hanging up is paced.
            if (!received && !gone) await abortableSleep(backoff(++failures), signal);
          }
        } catch (e) {
          if (signal?.aborted) return;
          if (!retriable(e)) throw e;
          await abortableSleep(backoff(++failures), signal);
        } finally {
          res.close();
        }
        if (gone) for (const ev of await relist()) yield ev;
      }
    } catch (e) {
      // Stopping through the signal ends the iteration quietly.
      if (signal?.aborted && isAbort(e)) return;
      throw e;
    }
  }

  /**
   * Resolves with the object once `condition` holds (checked on the current state, then on each
   * change the watch reports). NotFoundError when the object does not exist or is deleted while
   * waiting; TimeoutError after `timeoutMs`.
   */
  async waitFor<K extends KindRef>(kind: K, name: string, opts: WaitOptions<ObjectOf<K>>): Promise<ObjectOf<K>> {
    const info = resolveKind(kind);
    const test: (obj: ObjectOf<K>) => boolean =
      typeof opts.condition === 'function' ? opts.condition : (conditionPredicate(opts.condition) as (obj: ObjectOf<K>) => boolean);
    const what = typeof opts.condition === 'function' ? 'the condition' : `condition ${opts.condition}`;
    return this.waiting(info, name, opts, what, async (signal) => {
      const namespace = this.ns(info, opts.namespace);
      let obj = await this.get(kind, name, { namespace, signal });
      if (test(obj)) return obj;
      const events = this.watch(kind, {
        namespace,
        fieldSelector: `metadata.name=${name}`,
        resourceVersion: obj.metadata.resourceVersion,
        known: [obj],
        signal,
      });
      for await (const ev of events) {
        if (ev.type === 'DELETED') throw deletedWhileWaiting(info, name, what);
        obj = ev.object;
        if (test(obj)) return obj;
      }
      return undefined;
    });
  }

  /** Resolves once the object is gone (at once when it does not exist). */
  async waitForDeletion<K extends KindRef>(kind: K, name: string, opts: WaitForDeletionOptions = {}): Promise<void> {
    const info = resolveKind(kind);
    await this.waiting(info, name, opts, 'deletion', async (signal) => {
      const namespace = this.ns(info, opts.namespace);
      let obj: ObjectOf<K>;
      try {
        obj = await this.get(kind, name, { namespace, signal });
      } catch (e) {
        if (e instanceof NotFoundError) return true;
        throw e;
      }
      const uid = opts.uid ?? obj.metadata.uid;
      if (obj.metadata.uid !== uid) return true;
      const events = this.watch(kind, {
        namespace,
        fieldSelector: `metadata.name=${name}`,
        resourceVersion: obj.metadata.resourceVersion,
        known: [obj],
        signal,
      });
      for await (const ev of events) {
        if (ev.type === 'DELETED' || ev.object.metadata.uid !== uid) return true;
      }
      return undefined;
    });
  }

  /** Runs a wait under its deadline and the caller's signal. `fn` resolves undefined when aborted. */
  private async waiting<R>(
    info: ResourceInfo,
    name: string,
    opts: { timeoutMs?: number; signal?: AbortSignal },
    what: string,
    fn: (signal: AbortSignal) => Promise<R | undefined>,
  ): Promise<R> {
    const ms = opts.timeoutMs ?? DEFAULT_WAIT_MS;
    const ac = new AbortController();
    let timedOut = false;
    const timer = ms > 0 && Number.isFinite(ms) ? setTimeout(() => ((timedOut = true), ac.abort()), ms) : undefined;
    const onAbort = () => ac.abort(opts.signal!.reason);
    if (opts.signal?.aborted) ac.abort(opts.signal.reason);
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    const fail = (): Error =>
      timedOut
        ? clientTimeout(`timed out after ${formatMs(ms)} waiting for ${what} on ${qualifiedName(info)}/${name}`)
        : ((opts.signal?.reason as Error | undefined) ?? new Error('aborted'));
    try {
      const r = await fn(ac.signal);
      if (r === undefined) throw fail();
      return r;
    } catch (e) {
      if (ac.signal.aborted && (isAbort(e) || e === ac.signal.reason)) throw fail();
      throw e;
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      ac.abort();
    }
  }

  /** The namespace for a kind: undefined for cluster-scoped kinds. */
  private ns(info: ResourceInfo, given: string | undefined): string | undefined {
    if (!info.namespaced) return undefined;
    return given || this.namespace;
  }

  /** One request whose answer is JSON; error answers become ApiErrors. */
  private async call<T>(r: Omit<HttpRequest, 'headers'> & { contentType?: string }): Promise<T> {
    const headers: Record<string, string> = {};
    if (r.contentType) headers['content-type'] = r.contentType;
    const res = await this.transport.request({ ...r, headers });
    if (this.onWarning) for (const w of res.warnings) this.onWarning(w);
    const text = res.body.toString('utf8');
    if (res.status < 200 || res.status > 299) throw errorFromStatus(parseStatus(res.status, text));
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(parseStatus(502, `the server answered ${res.status} with a body that is not JSON`));
    }
  }
}

/** Is this failure one a watch bridges by reconnecting? */
function retriable(e: unknown): boolean {
  // A ConnectionError carries the errno name: transient ones (refused, reset) are retried, a TLS
  // or DNS failure is not.
  return isConnectionFailure(e) || e instanceof TimeoutError || isAbortedResponse(e);
}

/** A response cut off mid-body (the server went away): Node reports "aborted" with ECONNRESET. */
function isAbortedResponse(e: unknown): boolean {
  const err = e as NodeJS.ErrnoException | null;
  return err?.code === 'ECONNRESET' || err?.message === 'aborted';
}

function isAbort(e: unknown): boolean {
  return (e as Error | null)?.name === 'AbortError';
}

function backoff(failures: number): number {
  const ms = Math.min(MAX_RECONNECT_DELAY_MS, 100 * 2 ** Math.min(failures - 1, 10));
  return ms * (0.8 + Math.random() * 0.4);
}

function nameOf(obj: ObjectLike): string {
  const name = obj.metadata?.name;
  if (typeof name !== 'string' || name === '') throw new TypeError(`${obj.kind} has no metadata.name`);
  return name;
}

function writeQuery(opts: WriteOptions): Record<string, QueryValue> {
  return { dryRun: opts.dryRun ? 'All' : undefined, fieldValidation: opts.fieldValidation };
}

/** A selector as the query parameter wants it. */
export function selectorString(s: Selector | undefined): string | undefined {
  if (s === undefined) return undefined;
  if (typeof s === 'string') return s === '' ? undefined : s;
  const parts = Object.entries(s).map(([k, v]) => `${k}=${v}`);
  return parts.length ? parts.join(',') : undefined;
}

/**
 * "Ready" (the condition Ready has status True) or "Ready=False"; condition types compare
 * without regard to case, as kubectl wait does.
 */
export function conditionPredicate(spec: string): (obj: object) => boolean {
  const eq = spec.indexOf('=');
  const type = (eq >= 0 ? spec.slice(0, eq) : spec).trim().toLowerCase();
  const want = (eq >= 0 ? spec.slice(eq + 1) : 'True').trim().toLowerCase();
  if (type === '') throw new TypeError(`invalid condition ${JSON.stringify(spec)}: expected a condition type such as "Ready" or "Ready=False"`);
  return (obj) => {
    const conditions = (obj as { status?: { conditions?: Condition[] } }).status?.conditions;
    const c = Array.isArray(conditions) ? conditions.find((x) => x?.type?.toLowerCase() === type) : undefined;
    return c !== undefined && String(c.status).toLowerCase() === want;
  };
}

function deletedWhileWaiting(info: ResourceInfo, name: string, what: string): NotFoundError {
  const status: Status = {
    kind: 'Status',
    apiVersion: 'v1',
    status: 'Failure',
    code: 404,
    reason: 'NotFound',
    message: `${qualifiedName(info)} "${name}" was deleted while waiting for ${what}`,
    details: { name, group: info.group, kind: info.plural },
  };
  return new NotFoundError(status);
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
