// The controller suite over the in-process SQLite store: status written with a conditional
// store update, as a co-located controller would.

import { openSqliteStore } from '../store/index.js';
import type { StoredObject } from '../store/types.js';
import { controllerConformance } from './controller-conformance.js';
import { storeListerWatcher } from './store-listerwatcher.js';
import { splitKey, objectKey } from './types.js';

controllerConformance('store', async () => {
  const store = openSqliteStore(':memory:');
  return {
    store,
    listerWatcher: (resource) => storeListerWatcher(store, resource),
    async writeStatus(resource, obj, status) {
      const { namespace, name } = splitKey(objectKey(obj));
      const next = { ...(obj as unknown as StoredObject), status };
      const r = store.update({ resource, namespace, name }, next, Number(obj.metadata.resourceVersion));
      if (!r.ok) throw new Error(`status of ${namespace}/${name}: ${r.reason}`);
    },
    close: async () => store.close(),
  };
});
