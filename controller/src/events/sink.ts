// Where Events are written: a small, API-shaped interface with two implementations. The
// in-process one goes through the API server's own write path (Registry: defaults, validation,
// server-owned metadata, resourceVersions, watch notifications), so an Event written from inside
// the daemon is exactly what the same POST or PUT would have stored, without HTTP or credentials.
// The HTTP one (http-sink.ts) is for controllers running outside the daemon's process.

import type { Event } from '@sandkasten/api-schemas';
import { ApiError } from '../apiserver/errors.js';
import { Registry, type WriteOptions } from '../apiserver/registry.js';
import { defaultResourceTable, schemaValidator } from '../apiserver/resources.js';
import type { Store } from '../store/types.js';

/** A write that failed for a reason the recorder handles; any other failure is thrown. */
export type SinkFailure = 'AlreadyExists' | 'NotFound' | 'Conflict';

export type SinkResult = { ok: true; event: Event } | { ok: false; reason: SinkFailure };

/**
 * The Event operations the recorder and the sweeper need. Events handed out may be shared and
 * frozen: copy before changing. Invalid Events and transport failures reject with an Error whose
 * message says what was wrong.
 */
export interface EventSink {
  /** For log lines. */
  readonly description: string;
  get(namespace: string, name: string): Promise<Event | undefined>;
  /** Fails with AlreadyExists when the name is taken. */
  create(event: Event): Promise<SinkResult>;
  /** Replaces the Event; Conflict unless event.metadata.resourceVersion is current, NotFound when gone. */
  update(event: Event): Promise<SinkResult>;
  /** Every Event, in every namespace. */
  list(): Promise<Event[]>;
  /** Deletes the Event if it is still at resourceVersion (Conflict otherwise, NotFound when gone). */
  delete(namespace: string, name: string, resourceVersion: string): Promise<SinkResult>;
}

const EVENTS = 'events';

function failure(e: unknown): SinkResult {
  if (e instanceof ApiError) {
    if (e.status === 404) return { ok: false, reason: 'NotFound' };
    if (e.status === 409) return { ok: false, reason: e.reason === 'AlreadyExists' ? 'AlreadyExists' : 'Conflict' };
  }
  throw e;
}

/** Events written through the API server's write path straight into the store. */
export function storeEventSink(store: Store): EventSink {
  const def = defaultResourceTable().byPlural(EVENTS);
  if (!def) throw new Error('the resource table has no events');
  const reg = new Registry(store, def, schemaValidator);
  // Strict: a field the schema does not know is a bug in the caller, not something to drop quietly.
  const opts = (): WriteOptions => ({ dryRun: false, fieldValidation: 'Strict', warnings: [] });
  const ns = (e: Event) => e.metadata.namespace ?? '';
  const run = async (write: () => unknown): Promise<SinkResult> => {
    try {
      return { ok: true, event: write() as Event };
    } catch (e) {
      return failure(e);
    }
  };
  return {
    description: 'events in the store',
    get: async (namespace, name) => store.get(reg.key(namespace, name)) as Event | undefined,
    create: (event) => run(() => reg.create(ns(event), event, opts())),
    update: (event) => run(() => reg.update(ns(event), event.metadata.name ?? '', event, '', opts())),
    list: async () => store.list(EVENTS).items as unknown as Event[],
    delete: (namespace, name, resourceVersion) =>
      run(() => reg.delete(namespace, name, { preconditions: { resourceVersion } }, opts()).object),
  };
}
