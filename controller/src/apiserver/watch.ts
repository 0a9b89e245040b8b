// Watch streaming: one JSON object per line, `{"type", "object"}`, flushed as it happens.
// Events come from the store's in-process watch (synchronous, in resourceVersion order); the
// initial state is a list taken in the same tick as the subscription, so nothing is lost or
// repeated between them. Label/field-filtered watches turn "stopped matching" into DELETED and
// "started matching" into ADDED, as the Kubernetes apiserver does.

import type { ServerResponse } from 'node:http';
import type { Store, StoreEvent, StoredObject, Watch } from '../store/types.js';
import { ExpiredError } from '../store/types.js';
import { errors } from './errors.js';
import type { Logger } from './logger.js';
import type { ApiRequest } from './request.js';
import type { ResourceDef } from './resources.js';
import { matchesFields, matchesLabels, type FieldRequirement, type Selector } from './selectors.js';
import { rowOf, columnDefinitions, type IncludeObject } from './table.js';

export interface WatchRequest {
  def: ResourceDef;
  /** undefined = every namespace (or a cluster-scoped kind). */
  namespace?: string;
  /** undefined: start with the current state as ADDED events; N: resume strictly after N. */
  sinceResourceVersion?: number;
  /** With sinceResourceVersion: still send the current state first (sendInitialEvents=true). */
  sendInitialEvents: boolean;
  /** sendInitialEvents=true was asked for: mark the end of the initial state with a bookmark. */
  initialEventsEnd: boolean;
  labels: Selector;
  fields: FieldRequirement[];
  bookmarks: boolean;
  timeoutMs?: number;
  /** Objects rendered as meta.k8s.io Tables (kubectl get -w). */
  table?: IncludeObject;
}

export interface WatchLimits {
  bookmarkIntervalMs: number;
  /** A client that lets more than this many bytes pile up unread is cut off (it will re-list). */
  maxBufferedBytes: number;
}

/** The live watch streams, so shutdown can end them. */
export class WatchHub {
  private readonly streams = new Set<() => void>();
  add(close: () => void): () => void {
    this.streams.add(close);
    return () => {
      this.streams.delete(close);
    };
  }
  get size(): number {
    return this.streams.size;
  }
  closeAll(): void {
    for (const close of [...this.streams]) close();
  }
}

type Matched = Map<string, boolean>;

export function serveWatch(
  call: ApiRequest,
  res: ServerResponse,
  store: Store,
  w: WatchRequest,
  hub: WatchHub,
  limits: WatchLimits,
  logger: Logger,
): void {
  const { def } = w;
  const gv = `${def.group}/${def.version}`;
  const filtered = w.labels.length > 0 || w.fields.length > 0;
  const matched: Matched = new Map();
  const pending: string[] = [];
  let streaming = false;
  let closed = false;
  let sentColumns = false;
  let storeWatch: Watch | undefined;
  const timers: NodeJS.Timeout[] = [];

  const matches = (o: StoredObject) =>
    matchesLabels(w.labels, o.metadata.labels as Record<string, string> | undefined) && matchesFields(w.fields, o);

  const frame = (type: string, obj: StoredObject, raw?: string): string => {
    if (w.table) {
      const table = {
        kind: 'Table',
        apiVersion: 'meta.k8s.io/v1',
        metadata: { resourceVersion: obj.metadata.resourceVersion },
        columnDefinitions: sentColumns ? [] : columnDefinitions(def),
        rows: [rowOf(def, obj, w.table)],
      };
      sentColumns = true;
      return `{"type":"${type}","object":${JSON.stringify(table)}}\n`;
    }
    return `{"type":"${type}","object":${raw ?? JSON.stringify(obj)}}\n`;
  };

  const bookmark = (rv: number, initialEventsEnd = false): string => {
    const metadata: Record<string, unknown> = { resourceVersion: String(rv) };
    if (initialEventsEnd) metadata.annotations = { 'k8s.io/initial-events-end': 'true' };
    return `${JSON.stringify({ type: 'BOOKMARK', object: { apiVersion: gv, kind: def.kind, metadata } })}\n`;
  };

  let unregister: () => void = () => {};
  const finish = (errorLine?: string) => {
    if (closed) return;
    closed = true;
    storeWatch?.close();
    for (const t of timers) clearTimeout(t), clearInterval(t);
    unregister();
    if (!streaming) return;
    if (errorLine) res.write(errorLine);
    res.end();
    // A client that reads nothing never lets end() complete: drop its connection in a while.
    const t = setTimeout(() => res.destroy(), 10_000);
    t.unref();
    res.once('finish', () => clearTimeout(t));
  };

  const emit = (line: string) => {
    if (closed) return;
    if (!streaming) {
      pending.push(line);
      return;
    }
    res.write(line);
    if (res.writableLength > limits.maxBufferedBytes) {
      logger.warn(`watch ${call.url}: client too slow (${res.writableLength} bytes unread), closing`);
      const status = errors.expired('the watch was closed because the client did not keep up; re-list and watch again').toStatus();
      finish(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
    }
  };

  const onEvent = (ev: StoreEvent) => {
    if (!filtered) {
      emit(frame(ev.type, ev.object, ev.raw));
      return;
    }
    const o = ev.object;
    const k = `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    const m = matches(o);
    const was = matched.get(k);
    if (ev.type === 'DELETED') {
      matched.delete(k);
      if (was === true || (was === undefined && m)) emit(frame('DELETED', o, ev.raw));
      return;
    }
    matched.set(k, m);
    if (m) emit(frame(ev.type === 'ADDED' || was === false ? 'ADDED' : 'MODIFIED', o, ev.raw));
    // Stopped matching (or, resuming, may have matched at the start): the client must drop it.
    else if (was !== false && ev.type === 'MODIFIED') emit(frame('DELETED', o, ev.raw));
  };

  try {
    const initial = w.sinceResourceVersion === undefined || w.sendInitialEvents;
    if (initial) {
      const list = store.list(def.plural, w.namespace);
      for (const o of list.items) {
        const m = !filtered || matches(o);
        if (filtered) matched.set(`${o.metadata.namespace ?? ''}/${o.metadata.name}`, m);
        if (m) emit(frame('ADDED', o));
      }
      if (w.initialEventsEnd && w.bookmarks) emit(bookmark(list.resourceVersion, true));
      storeWatch = store.watch({ resource: def.plural, namespace: w.namespace, sinceResourceVersion: list.resourceVersion }, onEvent);
    } else {
      storeWatch = store.watch({ resource: def.plural, namespace: w.namespace, sinceResourceVersion: w.sinceResourceVersion }, onEvent);
    }
  } catch (e) {
    closed = true;
    if (e instanceof ExpiredError) throw errors.expired(e.message);
    throw e;
  }

  unregister = hub.add(() => finish());
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Cache-Control', 'no-cache, private');
  res.setHeader('X-Accel-Buffering', 'no');
  res.socket?.setNoDelay(true);
  res.flushHeaders();
  streaming = true;
  for (const line of pending.splice(0)) emit(line);

  call.req.on('close', () => finish());
  res.on('close', () => finish());
  if (w.bookmarks) {
    const t = setInterval(() => emit(bookmark(store.currentResourceVersion())), limits.bookmarkIntervalMs);
    t.unref();
    timers.push(t);
  }
  if (w.timeoutMs !== undefined) {
    const t = setTimeout(() => {
      if (w.bookmarks) emit(bookmark(store.currentResourceVersion()));
      finish();
    }, w.timeoutMs);
    t.unref();
    timers.push(t);
  }
}
