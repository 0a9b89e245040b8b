// Pieces of the watch: the JSON-lines event stream, and the state a resumable watch keeps so that
// a re-list after 410 Expired can be told to the consumer as ordinary events.

import type { Status } from '@sandkasten/api-schemas';
import type { SandkastenObject } from './kinds.js';

export type ObjectEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** A change to an object. After a re-list the missed changes arrive as such events too. */
export interface ObjectEvent<T> {
  type: ObjectEventType;
  object: T;
}

/** A progress mark: nothing changed up to this resourceVersion (only with `bookmarks: true`). */
export interface BookmarkEvent {
  type: 'BOOKMARK';
  object: { metadata: { resourceVersion: string } };
}

export type WatchEvent<T> = ObjectEvent<T> | BookmarkEvent;

/** A raw line of the stream. */
export type RawEvent =
  | { type: ObjectEventType; object: SandkastenObject }
  | { type: 'BOOKMARK'; object: { metadata: { resourceVersion: string } } }
  | { type: 'ERROR'; object: Status };

export class WatchProtocolError extends Error {
  override readonly name = 'WatchProtocolError';
}

/** Splits a byte stream into JSON lines, one event each; partial lines wait for the rest. */
export async function* parseEventLines(body: AsyncIterable<Uint8Array>): AsyncGenerator<RawEvent> {
  const decoder = new TextDecoder();
  let pending = '';
  for await (const chunk of body) {
    pending += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.trim() !== '') yield parseEventLine(line);
    }
  }
  pending += decoder.decode();
  if (pending.trim() !== '') yield parseEventLine(pending);
}

const types = new Set(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']);

export function parseEventLine(line: string): RawEvent {
  let ev: { type?: unknown; object?: unknown };
  try {
    ev = JSON.parse(line) as typeof ev;
  } catch {
    throw new WatchProtocolError(`malformed watch event: ${line.slice(0, 200)}`);
  }
  if (typeof ev !== 'object' || ev === null || typeof ev.type !== 'string' || !types.has(ev.type) || typeof ev.object !== 'object' || ev.object === null) {
    throw new WatchProtocolError(`watch event without a known type or an object: ${line.slice(0, 200)}`);
  }
  if (ev.type === 'BOOKMARK' || ev.type === 'ERROR') return ev as RawEvent;
  const meta = (ev.object as { metadata?: { name?: unknown; resourceVersion?: unknown } }).metadata;
  if (typeof meta?.name !== 'string' || typeof meta.resourceVersion !== 'string') {
    throw new WatchProtocolError(`watch event object without metadata.name and resourceVersion: ${line.slice(0, 200)}`);
  }
  return ev as RawEvent;
}

export function objectKey(o: { metadata: { namespace?: string; name?: string } }): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;
}

/**
 * What the watch knows of the watched set: the last state of every object it reported. A re-list
 * is compared with it to produce ADDED, MODIFIED and DELETED events for what was missed.
 */
export class KnownSet<T extends { metadata: { namespace?: string; name?: string; resourceVersion?: string } }> {
  private readonly objects = new Map<string, T>();

  constructor(initial: readonly T[] = []) {
    for (const o of initial) this.objects.set(objectKey(o), o);
  }

  has(o: T): boolean {
    return this.objects.has(objectKey(o));
  }

  /**
   * An event as the consumer should see it, given what it was told before: a filtered watch
   * resumed from a resourceVersion cannot know whether an object matched at that point, so the
   * server may send MODIFIED for one that just started matching, or DELETED for one never sent.
   * Undefined: nothing to report. Records the event.
   */
  normalize(ev: ObjectEvent<T>): ObjectEvent<T> | undefined {
    const had = this.has(ev.object);
    let out: ObjectEvent<T> | undefined = ev;
    if (ev.type === 'DELETED' && !had) out = undefined;
    else if (ev.type === 'MODIFIED' && !had) out = { type: 'ADDED', object: ev.object };
    else if (ev.type === 'ADDED' && had) out = { type: 'MODIFIED', object: ev.object };
    this.record(ev);
    return out;
  }

  record(ev: ObjectEvent<T>): void {
    if (ev.type === 'DELETED') this.objects.delete(objectKey(ev.object));
    else this.objects.set(objectKey(ev.object), ev.object);
  }

  /** The events that turn the known state into `items`, and records them. */
  diff(items: readonly T[]): ObjectEvent<T>[] {
    const out: ObjectEvent<T>[] = [];
    const seen = new Set<string>();
    for (const item of items) {
      const key = objectKey(item);
      seen.add(key);
      const prev = this.objects.get(key);
      if (!prev) out.push({ type: 'ADDED', object: item });
      else if (prev.metadata.resourceVersion !== item.metadata.resourceVersion) out.push({ type: 'MODIFIED', object: item });
    }
    for (const [key, prev] of this.objects) if (!seen.has(key)) out.push({ type: 'DELETED', object: prev });
    for (const ev of out) this.record(ev);
    return out;
  }
}
