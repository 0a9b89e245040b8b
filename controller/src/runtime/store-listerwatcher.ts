// A ListerWatcher over the in-process Store: for controllers living in the API server's process
// and for tests. The store hands out shared, deep-frozen objects; they go into the informer's
// cache as they are — no copy — which is safe precisely because they are frozen.

import { ExpiredError, type Store, type StoreEvent } from '../store/types.js';
import { Channel } from './channel.js';
import { GoneError } from './errors.js';
import type { ListerWatcher, ListResult, RuntimeObject, WatchEvent } from './types.js';

export interface StoreListerWatcherOptions {
  /** Only this namespace; all namespaces when absent. */
  namespace?: string;
}

export function storeListerWatcher(store: Store, resource: string, options: StoreListerWatcherOptions = {}): ListerWatcher {
  const { namespace } = options;
  return {
    description: namespace === undefined ? resource : `${resource} in ${namespace}`,

    async list(): Promise<ListResult> {
      const { items, resourceVersion } = store.list(resource, namespace);
      return { items: items as RuntimeObject[], resourceVersion: String(resourceVersion) };
    },

    async *watch(resourceVersion: string, signal: AbortSignal): AsyncIterable<WatchEvent> {
      const since = Number(resourceVersion);
      if (!Number.isSafeInteger(since) || since < 0) throw new Error(`invalid resourceVersion ${JSON.stringify(resourceVersion)}`);
      if (signal.aborted) return;
      const channel = new Channel<WatchEvent>();
      let watch;
      try {
        const opts = namespace === undefined ? { resource, sinceResourceVersion: since } : { resource, namespace, sinceResourceVersion: since };
        watch = store.watch(opts, (e: StoreEvent) => channel.push({ type: e.type, object: e.object as RuntimeObject }));
      } catch (err) {
        if (err instanceof ExpiredError || (err instanceof Error && err.name === 'ExpiredError')) throw new GoneError(err.message);
        throw err;
      }
      const onAbort = () => channel.close();
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        yield* channel;
      } finally {
        signal.removeEventListener('abort', onAbort);
        watch.close();
      }
    },
  };
}
