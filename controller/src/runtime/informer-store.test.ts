// The informer over the in-process SQLite store. "Disconnect" is a thin switch in front of the
// real store lister-watcher that severs open watches and refuses new calls, as a dropped
// connection would.

import { openSqliteStore } from '../store/index.js';
import { storeListerWatcher } from './store-listerwatcher.js';
import { listerWatcherConformance, resource, type Source } from './informer-conformance.js';
import type { ListerWatcher, WatchEvent } from './types.js';

function severable(inner: ListerWatcher) {
  let down = false;
  const open = new Set<AbortController>();
  const lw: ListerWatcher = {
    description: inner.description,
    async list() {
      if (down) throw new Error('connection refused');
      return inner.list();
    },
    async *watch(rv: string, signal: AbortSignal): AsyncIterable<WatchEvent> {
      if (down) throw new Error('connection refused');
      const conn = new AbortController();
      const onAbort = () => conn.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      open.add(conn);
      try {
        yield* inner.watch(rv, conn.signal);
      } finally {
        open.delete(conn);
        signal.removeEventListener('abort', onAbort);
      }
      if (!signal.aborted) throw new Error('connection reset');
    },
  };
  return {
    lw,
    sever() {
      down = true;
      for (const c of open) c.abort();
    },
    restore() {
      down = false;
    },
  };
}

listerWatcherConformance('store', async (): Promise<Source> => {
  const store = openSqliteStore(':memory:');
  const s = severable(storeListerWatcher(store, resource));
  return {
    store,
    lw: s.lw,
    disconnect: async () => s.sever(),
    reconnect: async () => s.restore(),
    close: async () => store.close(),
  };
});
