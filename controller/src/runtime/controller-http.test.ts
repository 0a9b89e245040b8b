// The controller suite over HTTP: informers watch the real API server, the toy reconciler
// writes status through PUT …/status.

import { controllerConformance } from './controller-conformance.js';
import { startApi } from './http-harness.js';

controllerConformance('http', async () => {
  const api = await startApi();
  return {
    store: api.store,
    listerWatcher: (r) => api.listerWatcher(r),
    writeStatus: (r, obj, status) => api.writeStatus(r, obj, status),
    close: () => api.close(),
  };
});
