// Waiting for a Session (or Workspace) to reach a state, by watching the store rather than polling:
// the decision runs on the current object first, then on every later change of it, and the wait
// ends the moment it decides (or at the deadline).

import type { Store, StoredObject } from '../store/types.js';

export type Decide<T> = (obj: StoredObject | undefined) => T | undefined;

/**
 * Resolves with the first non-undefined `decide(obj)` over the object's states from now on
 * (`undefined` is passed once it is deleted), or with `timedOut` after timeoutMs, or when the
 * signal aborts.
 */
export function waitForObject<T>(
  store: Store,
  key: { resource: string; namespace: string; name: string },
  decide: Decide<T>,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ value: T } | { timedOut: true; last: StoredObject | undefined }> {
  return new Promise((resolve) => {
    // The revision first, then the object: a change in between is seen twice, never missed.
    const since = store.currentResourceVersion();
    let last = store.get(key);
    const now = decide(last);
    if (now !== undefined) {
      resolve({ value: now });
      return;
    }
    let done = false;
    const finish = (r: { value: T } | { timedOut: true; last: StoredObject | undefined }) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      // Closing inside the callback is allowed; queueMicrotask keeps the writer's stack short.
      queueMicrotask(() => watch.close());
      resolve(r);
    };
    const onAbort = () => finish({ timedOut: true, last });
    const timer = setTimeout(() => finish({ timedOut: true, last }), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    const watch = store.watch({ resource: key.resource, namespace: key.namespace, sinceResourceVersion: since }, (ev) => {
      if (done || ev.object.metadata.name !== key.name) return;
      last = ev.type === 'DELETED' ? undefined : ev.object;
      const v = decide(last);
      if (v !== undefined) finish({ value: v });
    });
    if (signal?.aborted) onAbort();
  });
}
