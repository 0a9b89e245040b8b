// The storage contract the API layer is written against (after kine): a log-shaped store where
// every write is an append and the resourceVersion is the log id (one global counter). Conflicts
// come back as values; watchers are notified in-process, synchronously after the commit.
//
// Objects handed out by a store (get, list, write results, watch events) are shared and
// deep-frozen: reads cost no copy, and a caller that mutates one gets a TypeError instead of
// silently corrupting the cache. Copy (structuredClone) before changing. Objects passed in are
// never modified or retained by the store.

/** Any stored API object. The API layer owns its shape; the store reads only metadata. */
export interface StoredObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid: string;
    resourceVersion?: string;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/**
 * Where an object lives: resource is the plural ("sessions"); namespace is "" for cluster-scoped
 * kinds. A written object's metadata.name and metadata.namespace (absent or "") must match its key.
 */
export interface ObjectKey {
  resource: string;
  namespace: string;
  name: string;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  type: WatchEventType;
  /** The object after the write (for DELETED: the last state, with the delete's resourceVersion). */
  object: StoredObject;
  /** `object` as JSON text, ready to be framed into a response without re-serialising. */
  raw: string;
  resourceVersion: number;
}

/** The reasons a write can fail with, as values (kine's sentinel errors). Defined once, here. */
export const StoreReason = {
  AlreadyExists: 'AlreadyExists',
  NotFound: 'NotFound',
  Conflict: 'Conflict',
} as const;
export type StoreReason = (typeof StoreReason)[keyof typeof StoreReason];

export type WriteResult =
  | { ok: true; object: StoredObject }
  | { ok: false; reason: typeof StoreReason.AlreadyExists | typeof StoreReason.NotFound }
  | { ok: false; reason: typeof StoreReason.Conflict; current: StoredObject };

export interface ListResult {
  /** Sorted by namespace, then name (code-unit order). */
  items: StoredObject[];
  /** The store's revision at the time of the list: a watch from it misses nothing. */
  resourceVersion: number;
}

/** list() as JSON texts: lets the HTTP layer join the items into a response body directly. */
export interface RawListResult {
  items: string[];
  resourceVersion: number;
}

export interface WatchOptions {
  resource: string;
  /** undefined = all namespaces */
  namespace?: string;
  /**
   * Deliver events strictly after this revision (a non-negative integer). undefined = only
   * future events. Resuming from N needs every event after N still in the log: N must be
   * >= oldestResourceVersion() (else ExpiredError) and <= currentResourceVersion() (else
   * ExpiredError too — the client's history is not this store's, so it must relist).
   */
  sinceResourceVersion?: number;
}

export interface Watch {
  /** Stops delivery; idempotent. */
  close(): void;
}

/** Thrown by watch() when sinceResourceVersion cannot be resumed from: the client must relist (410). */
export class ExpiredError extends Error {
  constructor(
    readonly requested: number,
    readonly oldest: number,
    message = `too old resource version: ${requested} (${oldest})`,
  ) {
    super(message);
    this.name = 'ExpiredError';
  }
}

export interface Store {
  get(key: ObjectKey): StoredObject | undefined;
  /** get() as JSON text. */
  getRaw(key: ObjectKey): string | undefined;
  list(resource: string, namespace?: string): ListResult;
  /** list() as JSON texts, same order. */
  listRaw(resource: string, namespace?: string): RawListResult;
  /** Fails with AlreadyExists when the key is taken. Sets metadata.resourceVersion. */
  create(key: ObjectKey, object: StoredObject): WriteResult;
  /** Replaces the object. With expectedResourceVersion, fails with Conflict when it is not current. */
  update(key: ObjectKey, object: StoredObject, expectedResourceVersion?: number): WriteResult;
  /** Removes the object; the DELETED event carries its last state. */
  delete(key: ObjectKey, expectedResourceVersion?: number): WriteResult;
  /**
   * Replays history after sinceResourceVersion (throws ExpiredError when compacted away), then
   * delivers live events, in order, with nothing lost or repeated. Replay happens synchronously
   * inside this call, so no write can slip between replay and subscription.
   *
   * onEvent runs synchronously on the writer's stack (after the commit): it must be quick and
   * buffer rather than block. It may write to the store or open/close watches; such nested
   * events are queued and still reach every watcher in resourceVersion order. An exception it
   * throws is reported and does not stop delivery to it or to other watchers.
   */
  watch(options: WatchOptions, onEvent: (event: StoreEvent) => void): Watch;
  /** The newest resourceVersion written (0 for an empty store). */
  currentResourceVersion(): number;
  /** The oldest resourceVersion a watch may still resume from. */
  oldestResourceVersion(): number;
  /**
   * Drops history keeping at least `minEvents` newest events and everything newer than `minAgeMs`
   * (defaults 1000 and 5 minutes); moves oldestResourceVersion() up to the cut. Deletes at most
   * `maxRows` rows per call (default all), so a scheduler can spread a big cut over event-loop
   * turns. Returns the number of log rows deleted.
   */
  compact(minEvents?: number, minAgeMs?: number, maxRows?: number): number;
  /** Releases the database; further calls throw. Idempotent. */
  close(): void;
}
