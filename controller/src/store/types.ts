// The storage contract the API layer is written against (after kine): a log-shaped store where
// every write is an append and the resourceVersion is the log id (one global counter). Conflicts
// come back as values; watchers are notified in-process, synchronously after the commit.

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

/** Where an object lives: resource is the plural ("sessions"); namespace is "" for cluster-scoped kinds. */
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
  resourceVersion: number;
}

export type WriteResult =
  | { ok: true; object: StoredObject }
  | { ok: false; reason: 'AlreadyExists' | 'NotFound' }
  | { ok: false; reason: 'Conflict'; current: StoredObject };

export interface ListResult {
  items: StoredObject[];
  /** The store's revision at the time of the list: a watch from it misses nothing. */
  resourceVersion: number;
}

export interface WatchOptions {
  resource: string;
  /** undefined = all namespaces */
  namespace?: string;
  /** Deliver events strictly after this revision. undefined = only future events. */
  sinceResourceVersion?: number;
}

export interface Watch {
  /** Stops delivery; idempotent. */
  close(): void;
}

/** Thrown by watch() when sinceResourceVersion is older than the compacted history. */
export class ExpiredError extends Error {
  constructor(
    readonly requested: number,
    readonly oldest: number,
  ) {
    super(`too old resource version: ${requested} (${oldest})`);
    this.name = 'ExpiredError';
  }
}

export interface Store {
  get(key: ObjectKey): StoredObject | undefined;
  list(resource: string, namespace?: string): ListResult;
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
   */
  watch(options: WatchOptions, onEvent: (event: StoreEvent) => void): Watch;
  /** The newest resourceVersion written (0 for an empty store). */
  currentResourceVersion(): number;
  /** The oldest resourceVersion a watch may still resume from. */
  oldestResourceVersion(): number;
  /** Drops history keeping at least `minEvents` newest events and everything newer than `minAgeMs`. */
  compact(minEvents?: number, minAgeMs?: number): void;
  close(): void;
}
