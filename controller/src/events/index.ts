// Events: how controllers report what happened to an object. An EventRecorder writes them
// (aggregated and rate-limited, as Kubernetes does) through an EventSink — in-process through the
// API server's write path, or over HTTP — and a sweeper deletes them event_ttl_seconds after they
// were last seen.

export { EventRecorder, eventName, MAX_EVENT_MESSAGE } from './recorder.js';
export type { EventRecorderOptions, EventType, InvolvedObject, RecordOptions, RecorderStats } from './recorder.js';
export { storeEventSink } from './sink.js';
export type { EventSink, SinkResult, SinkFailure } from './sink.js';
export { httpEventSink } from './http-sink.js';
export type { HttpEventSink, HttpEventSinkOptions } from './http-sink.js';
export { startEventSweeper, sweepEvents } from './sweeper.js';
export type { EventSweeper, EventSweeperOptions } from './sweeper.js';
