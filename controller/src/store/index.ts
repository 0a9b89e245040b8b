// The store package: the contract the API layer codes against, and its SQLite implementation.

export { ExpiredError, StoreReason } from './types.js';
export type {
  ListResult,
  ObjectKey,
  RawListResult,
  Store,
  StoreEvent,
  StoredObject,
  Watch,
  WatchEventType,
  WatchOptions,
  WriteResult,
} from './types.js';
export {
  openSqliteStore,
  DEFAULT_COMPACT_MIN_AGE_MS,
  DEFAULT_COMPACT_MIN_EVENTS,
  SCHEMA_VERSION,
} from './sqlite-store.js';
export type { SqliteStoreOptions } from './sqlite-store.js';
export { startCompactor } from './compactor.js';
export type { CompactorOptions } from './compactor.js';
