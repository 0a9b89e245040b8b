// The shapes the runtime works with. Objects are kept loosely typed on purpose: a reconciler
// knows its kind and narrows (`obj as Session`); the runtime reads only metadata.

export interface ObjectMeta {
  name: string;
  /** Absent or "" for cluster-scoped kinds. */
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
}

export interface RuntimeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
}

export type WatchEvent =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: RuntimeObject }
  /** Carries only metadata.resourceVersion: progress without a change. */
  | { type: 'BOOKMARK'; object: { metadata: { resourceVersion: string } } };

export interface ListResult {
  items: RuntimeObject[];
  /** The collection's resourceVersion: a watch from it misses nothing after the list. */
  resourceVersion: string;
}

/**
 * Where an informer gets its objects. `watch` delivers events strictly after `resourceVersion`,
 * throws a GoneError when that version was compacted away, throws other errors when the stream
 * breaks, and ends without an error when `signal` aborts.
 */
export interface ListerWatcher {
  /** For log lines, e.g. "sessions". */
  readonly description: string;
  list(): Promise<ListResult>;
  watch(resourceVersion: string, signal: AbortSignal): AsyncIterable<WatchEvent>;
}

/** The cache key of an object: `namespace/name`, or `name` for cluster-scoped objects. */
export function objectKey(obj: RuntimeObject): string {
  const ns = obj.metadata.namespace;
  return ns ? `${ns}/${obj.metadata.name}` : obj.metadata.name;
}

/** Splits a cache key back into namespace ("" when cluster-scoped) and name. */
export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
