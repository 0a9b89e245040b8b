// The controller runtime: informers (list + watch into a cache), a de-duplicating work queue
// with per-key backoff, controllers that run a Reconciler per key, and a Manager for several.

export { WorkQueue, backoffDelay } from './workqueue.js';
export type { WorkQueueOptions, WorkQueueMetrics, ShutdownOptions } from './workqueue.js';

export { Informer, sleep } from './informer.js';
export type { EventHandler, InformerOptions, WaitForSyncOptions } from './informer.js';

export { httpListerWatcher, parseEventStream, parseEvent } from './http-listerwatcher.js';
export type { HttpListerWatcherOptions } from './http-listerwatcher.js';
export { storeListerWatcher } from './store-listerwatcher.js';
export type { StoreListerWatcherOptions } from './store-listerwatcher.js';

export { Controller } from './controller.js';
export type {
  ControllerOptions,
  ReconcileContext,
  ReconcileResult,
  Reconciler,
  SecondaryWatch,
  StopOptions,
} from './controller.js';
export { Manager } from './manager.js';
export type { ManagerOptions, ManagedControllerOptions } from './manager.js';

export { TerminalError, isTerminalError, GoneError, isGoneError, HttpError, WatchError, errorMessage } from './errors.js';
export { objectKey, splitKey } from './types.js';
export type { ObjectMeta, RuntimeObject, WatchEvent, ListResult, ListerWatcher } from './types.js';
export { consoleLogger, silentLogger, prefixed, memoryLogger } from './log.js';
export type { Logger, LogLevel, MemoryLogger } from './log.js';
