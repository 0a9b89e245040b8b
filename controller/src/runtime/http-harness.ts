// A real API server on 127.0.0.1 over a real SQLite store, for the runtime's HTTP tests: it can
// be killed (connections cut mid-stream) and restarted on the same port and store.

import { createApiServer, type ApiServer } from '../apiserver/index.js';
import { openSqliteStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { HttpError } from './errors.js';
import { httpListerWatcher } from './http-listerwatcher.js';
import type { ListerWatcher, RuntimeObject } from './types.js';

export const token = 'runtime-test-token';
const group = '/apis/sandkasten.dev/v1';

export interface ApiHarness {
  store: Store;
  baseUrl: string;
  listerWatcher(resource: string): ListerWatcher;
  /** Cuts every connection mid-stream and stops listening. */
  kill(): Promise<void>;
  /** A fresh API server on the same port and store. */
  restart(): Promise<void>;
  writeStatus(resource: string, obj: RuntimeObject, status: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

export async function startApi(): Promise<ApiHarness> {
  const store = openSqliteStore(':memory:');
  // Frequent bookmarks, so the tests see them.
  const make = () => createApiServer({ store, config: { api_key: token }, watch: { bookmarkIntervalMs: 50 } });
  let api: ApiServer | undefined = make();
  const { port, url } = await api.listen('127.0.0.1:0');

  const kill = async () => {
    if (api === undefined) return;
    const dying = api;
    api = undefined;
    dying.server?.closeAllConnections();
    await dying.close(0);
  };

  return {
    store,
    baseUrl: url,
    listerWatcher: (resource) => httpListerWatcher({ baseUrl: url, token, path: `${group}/${resource}` }),
    kill,
    async restart() {
      if (api !== undefined) return;
      api = make();
      await api.listen(`127.0.0.1:${port}`);
    },
    async writeStatus(resource, obj, status) {
      const { namespace, name } = obj.metadata;
      const path = namespace ? `${group}/namespaces/${namespace}/${resource}/${name}/status` : `${group}/${resource}/${name}/status`;
      const res = await fetch(url + path, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', connection: 'close' },
        body: JSON.stringify({ ...obj, status }),
      });
      const body = (await res.json()) as { reason?: string; message?: string };
      if (!res.ok) throw new HttpError(res.status, body.reason ?? '', `PUT ${path}: ${res.status} ${body.message ?? ''}`);
    },
    async close() {
      await kill();
      store.close();
    },
  };
}
