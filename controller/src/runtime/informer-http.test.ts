// The informer over HTTP against the real API server: a "disconnect" kills the server with its
// connections mid-stream and starts a new one on the same port and store.

import { startApi } from './http-harness.js';
import { listerWatcherConformance, resource } from './informer-conformance.js';

listerWatcherConformance('http', async () => {
  const api = await startApi();
  return {
    store: api.store,
    lw: api.listerWatcher(resource),
    disconnect: () => api.kill(),
    reconnect: () => api.restart(),
    close: () => api.close(),
  };
});
