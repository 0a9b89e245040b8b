// The watch against a real API server: initial state, changes, selectors, resuming across a
// server restart without loss or repeats, re-listing after 410 into events that converge.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Workspace } from '@sandkasten/api-schemas';
import { SandboxClient, UnauthorizedError, type ObjectEvent } from './index.js';
import { KnownSet, parseEventLines } from './watch.js';
import { liveServer, workspace, type LiveServer } from './testutil.js';

let srv: LiveServer;
let c: SandboxClient;

before(async () => {
  srv = await liveServer();
  c = new SandboxClient({ baseUrl: srv.url, apiKey: srv.apiKey });
});
after(async () => {
  c.close();
  await srv.cleanup();
});

/** Pulls events from an iterator one at a time, with a deadline per event. */
function reader<T>(it: AsyncIterator<ObjectEvent<T>>) {
  return {
    async next(ms = 5000): Promise<ObjectEvent<T>> {
      let timer: NodeJS.Timeout | undefined;
      const r = await Promise.race([
        it.next(),
        new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`no watch event within ${ms} ms`)), ms))),
      ]).finally(() => clearTimeout(timer));
      if (r.done) throw new Error('watch ended');
      return r.value;
    },
    async take(n: number, ms = 5000): Promise<string[]> {
      const out: string[] = [];
      for (let i = 0; i < n; i++) {
        const ev = await this.next(ms);
        out.push(`${ev.type} ${(ev.object as { metadata: { name: string } }).metadata.name}`);
      }
      return out;
    },
  };
}

/** Every namespace of a test gets its own, so tests do not see each other's objects. */
let nsCount = 0;
const freshNs = () => `watch-${process.pid}-${++nsCount}`;

test('current state as ADDED, then changes; stops when the consumer breaks', async () => {
  const ns = freshNs();
  await c.create(workspace('a', { namespace: ns }));
  await c.create(workspace('b', { namespace: ns }));
  const it = c.watch('ws', { namespace: ns });
  const r = reader(it);
  assert.deepEqual((await r.take(2)).sort(), ['ADDED a', 'ADDED b']);
  await c.patch('ws', 'a', { metadata: { labels: { x: '1' } } }, { namespace: ns });
  await c.delete('ws', 'b', { namespace: ns });
  await c.create(workspace('c', { namespace: ns }));
  assert.deepEqual(await r.take(3), ['MODIFIED a', 'DELETED b', 'ADDED c']);
  await it.return(undefined);
  assert.deepEqual(await it.next(), { done: true, value: undefined });
});

test('label selector: objects entering and leaving the selection', async () => {
  const ns = freshNs();
  await c.create(workspace('in', { namespace: ns, labels: { team: 'a' } }));
  await c.create(workspace('out', { namespace: ns, labels: { team: 'b' } }));
  const ac = new AbortController();
  const it = c.watch('workspaces', { namespace: ns, labelSelector: { team: 'a' }, signal: ac.signal });
  const r = reader(it);
  assert.deepEqual(await r.take(1), ['ADDED in']);
  await c.patch('ws', 'out', { metadata: { labels: { team: 'a' } } }, { namespace: ns });
  await c.patch('ws', 'in', { metadata: { labels: { team: 'b' } } }, { namespace: ns });
  assert.deepEqual(await r.take(2), ['ADDED out', 'DELETED in']);
  ac.abort();
  assert.equal((await it.next()).done, true, 'an aborted signal ends the iteration quietly');
});

test('resumes after a server restart from the last resourceVersion: nothing lost, nothing repeated', async () => {
  const ns = freshNs();
  await c.create(workspace('r1', { namespace: ns }));
  const it = c.watch('ws', { namespace: ns });
  const r = reader(it);
  assert.deepEqual(await r.take(1), ['ADDED r1']);
  await c.patch('ws', 'r1', { metadata: { labels: { v: '1' } } }, { namespace: ns });
  assert.deepEqual(await r.take(1), ['MODIFIED r1']);

  await srv.down();
  // Changes while the API is down: written through the store, kept in its history.
  await srv.inproc.patch('workspaces', ns, 'r1', { metadata: { labels: { v: '2' } } });
  await srv.inproc.create('workspaces', ns, workspace('r2', { namespace: ns }));
  const pending = r.take(3, 10_000);
  await new Promise((res) => setTimeout(res, 300));
  await srv.up();
  await c.create(workspace('r3', { namespace: ns }));
  assert.deepEqual(await pending, ['MODIFIED r1', 'ADDED r2', 'ADDED r3']);
  await c.delete('ws', 'r2', { namespace: ns });
  assert.deepEqual(await r.take(1), ['DELETED r2']);
  await it.return(undefined);
});

test('re-lists after 410 and reports what it missed as events', async () => {
  const ns = freshNs();
  await c.create(workspace('keep', { namespace: ns }));
  await c.create(workspace('change', { namespace: ns }));
  await c.create(workspace('drop', { namespace: ns }));
  const it = c.watch('ws', { namespace: ns });
  const r = reader(it);
  assert.equal((await r.take(3)).length, 3);

  await srv.down();
  await srv.inproc.patch('workspaces', ns, 'change', { metadata: { labels: { v: '2' } } });
  await srv.inproc.delete('workspaces', ns, 'drop');
  await srv.inproc.create('workspaces', ns, workspace('new', { namespace: ns }));
  // Compact all history: the watch's resourceVersion is gone.
  srv.store.compact(0, 0);
  await srv.up();
  const got = await r.take(3, 10_000);
  assert.deepEqual(got.sort(), ['ADDED new', 'DELETED drop', 'MODIFIED change']);
  // and it goes on watching from the list's resourceVersion
  await c.delete('ws', 'keep', { namespace: ns });
  assert.deepEqual(await r.take(1), ['DELETED keep']);
  await it.return(undefined);
});

test('starting from a compacted resourceVersion lists, and known objects that went are DELETED', async () => {
  const ns = freshNs();
  const a = await c.create(workspace('a', { namespace: ns }));
  const b = await c.create(workspace('b', { namespace: ns }));
  await c.delete('ws', 'b', { namespace: ns });
  srv.store.compact(0, 0);
  const it = c.watch('ws', { namespace: ns, resourceVersion: a.metadata.resourceVersion, known: [a, b] });
  const r = reader(it);
  assert.deepEqual(await r.take(1), ['DELETED b'], 'a is unchanged: no event for it');
  await c.patch('ws', 'a', { metadata: { labels: { v: '1' } } }, { namespace: ns });
  assert.deepEqual(await r.take(1), ['MODIFIED a']);
  await it.return(undefined);
});

test('a watch across namespaces, and bookmarks on request', async () => {
  const ns1 = freshNs();
  const ns2 = freshNs();
  const start = await c.list('ws', { allNamespaces: true });
  const it = c.watch('ws', { allNamespaces: true, resourceVersion: start.metadata.resourceVersion });
  const r = reader(it);
  await c.create(workspace('x', { namespace: ns1 }));
  await c.create(workspace('y', { namespace: ns2 }));
  const evs = [await r.next(), await r.next()];
  assert.deepEqual(evs.map((e) => `${e.object.metadata.namespace}/${e.object.metadata.name}`), [`${ns1}/x`, `${ns2}/y`]);
  await it.return(undefined);

  const ac = new AbortController();
  const seen: string[] = [];
  for await (const ev of c.watch('ws', { namespace: ns1, bookmarks: true, signal: ac.signal })) {
    seen.push(ev.type);
    if (ev.type === 'BOOKMARK') {
      assert.match(ev.object.metadata.resourceVersion, /^\d+$/);
      ac.abort();
    }
  }
  assert.deepEqual(seen, ['ADDED', 'BOOKMARK']);
});

test('errors other than disconnects end the watch with a typed error', async () => {
  const bad = new SandboxClient({ baseUrl: srv.url, apiKey: 'wrong' });
  await assert.rejects(bad.watch('ws').next(), UnauthorizedError);
  await assert.rejects(bad.watch('ws', { resourceVersion: '1' }).next(), UnauthorizedError);
  bad.close();
});

test('event lines split anywhere in the byte stream', async () => {
  const text =
    JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'ä', resourceVersion: '1' } } }) +
    '\n\n' +
    JSON.stringify({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '5' } } }) +
    '\n' +
    JSON.stringify({ type: 'DELETED', object: { metadata: { name: 'b', resourceVersion: '6' } } });
  const bytes = Buffer.from(text);
  for (const size of [1, 2, 3, 7, bytes.length]) {
    async function* chunks() {
      for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
    }
    const got: string[] = [];
    for await (const ev of parseEventLines(chunks())) got.push(`${ev.type}:${ev.object.metadata?.resourceVersion}`);
    assert.deepEqual(got, ['ADDED:1', 'BOOKMARK:5', 'DELETED:6'], `chunk size ${size}`);
  }
  async function* broken() {
    yield Buffer.from('{"type":"ADDED","object":{}}\n');
  }
  await assert.rejects(async () => {
    for await (const _ of parseEventLines(broken())) void _;
  }, /without metadata.name/);
});

test('KnownSet.diff turns a list into the events that reach it', () => {
  const w = (name: string, rv: string): Workspace => ({ ...workspace(name), metadata: { name, resourceVersion: rv } });
  const k = new KnownSet<Workspace>([w('a', '1'), w('b', '2'), w('c', '3')]);
  const evs = k.diff([w('a', '1'), w('b', '9'), w('d', '10')]);
  assert.deepEqual(evs.map((e) => `${e.type} ${e.object.metadata.name}`), ['MODIFIED b', 'ADDED d', 'DELETED c']);
  assert.deepEqual(k.diff([w('a', '1'), w('b', '9'), w('d', '10')]), []);
});
