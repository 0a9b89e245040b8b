// The client against the real daemon binary (API server, store and controllers): a Workspace
// applied, reconciled to Ready, watched across a daemon restart, deleted through its finalizer.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Workspace } from '@sandkasten/api-schemas';
import { removeDir, startDaemon, tempDir, type Daemon } from '@sandkasten/controller/dist/bin/testutil.js';
import { NotFoundError, SandboxClient, type ObjectEvent } from './index.js';
import { freePort } from './testutil.js';

let dir: string;
let config: string;
let daemon: Daemon;
let c: SandboxClient;

before(async () => {
  dir = tempDir('sk-client-daemon-');
  const port = await freePort();
  config = `listen: "127.0.0.1:${port}"\napi_key: "test-key"\ndata_dir: "${join(dir, 'data')}"\n`;
  daemon = await startDaemon({ dir, config });
  c = new SandboxClient({ baseUrl: daemon.url, apiKey: 'test-key' });
});
after(async () => {
  c.close();
  await daemon.stop();
  removeDir(dir);
});

const ws = (name: string): Workspace => ({ apiVersion: 'sandkasten.dev/v1', kind: 'Workspace', metadata: { name }, spec: { reclaimPolicy: 'Delete' } });

test('apply, reconciled to Ready, watched across a daemon restart, deleted through its finalizer', async () => {
  await c.apply(ws('one'), { fieldManager: 'test' });
  const ready = await c.waitFor('ws', 'one', { condition: 'Ready', timeoutMs: 15_000 });
  assert.ok(ready.metadata.finalizers?.length, 'the controller holds a finalizer');

  const events: ObjectEvent<Workspace>[] = [];
  const watching = (async () => {
    for await (const ev of c.watch('ws')) {
      events.push(ev);
      if (ev.type === 'DELETED' && ev.object.metadata.name === 'two') return;
    }
  })();
  const seen = async (pred: (e: ObjectEvent<Workspace>) => boolean, what: string) => {
    const deadline = Date.now() + 15_000;
    while (!events.some(pred)) {
      if (Date.now() > deadline) throw new Error(`no ${what}: ${events.map((e) => `${e.type} ${e.object.metadata.name}`).join(', ')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await seen((e) => e.type === 'ADDED' && e.object.metadata.name === 'one', 'ADDED one');

  assert.equal(await daemon.stop('SIGTERM'), 0);
  // A call made while the daemon is down is retried until it is back; the watch resumes.
  const applying = c.apply(ws('two'), { fieldManager: 'test' });
  daemon = await startDaemon({ dir, config });
  await applying;
  await c.waitFor('ws', 'two', { condition: 'Ready', timeoutMs: 15_000 });
  await seen((e) => e.type === 'ADDED' && e.object.metadata.name === 'two', 'ADDED two');

  await c.delete('ws', 'two');
  await c.waitForDeletion('ws', 'two', { timeoutMs: 15_000 });
  await assert.rejects(c.get('ws', 'two'), NotFoundError);
  await watching;
  const names = events.filter((e) => e.type === 'ADDED').map((e) => e.object.metadata.name);
  assert.deepEqual(names, ['one', 'two'], 'each object added once: nothing repeated across the restart');
  const two = events.filter((e) => e.object.metadata.name === 'two').map((e) => e.type);
  assert.equal(two.at(-1), 'DELETED');
  assert.ok(two.includes('MODIFIED'), 'the reconciler\'s status writes arrived');
});
