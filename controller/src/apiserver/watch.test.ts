// Watch streams against a real server and store: initial state, live events, resume (also across
// a restart), 410 after compaction, bookmarks, timeouts, filtered transitions, slow clients.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GV, SESSIONS, WatchStream, session, sleep, startServer, type TestServer, type WatchEvent } from './testutil.js';

const MERGE = { 'content-type': 'application/merge-patch+json' };
const rvs = (es: WatchEvent[]) => es.map((e) => `${e.type}:${e.object.metadata.name}:${e.object.metadata.resourceVersion}`);

describe('watch', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ watch: { bookmarkIntervalMs: 200 } });
  });
  after(async () => {
    await s.cleanup();
  });

  it('starts with the current objects as ADDED, then streams live events as JSON lines', async () => {
    await s.req('POST', SESSIONS, session('w-1'));
    await s.req('POST', SESSIONS, session('w-2'));
    const w = await WatchStream.open(s, `${SESSIONS}?watch=true`);
    assert.equal(w.status, 200);
    const first = [await w.next(), await w.next()];
    assert.deepEqual(first.map((e) => [e.type, e.object.metadata.name]), [['ADDED', 'w-1'], ['ADDED', 'w-2']]);
    assert.equal(first[0]!.object.kind, 'Session');
    await s.req('PATCH', `${SESSIONS}/w-1`, { spec: { ttlSeconds: 3 } }, MERGE);
    await s.req('POST', SESSIONS, session('w-3'));
    await s.req('DELETE', `${SESSIONS}/w-2`);
    const live = [await w.next(), await w.next(), await w.next()];
    assert.deepEqual(live.map((e) => [e.type, e.object.metadata.name]), [['MODIFIED', 'w-1'], ['ADDED', 'w-3'], ['DELETED', 'w-2']]);
    assert.equal(live[0]!.object.spec.ttlSeconds, 3);
    const ids = live.map((e) => Number(e.object.metadata.resourceVersion));
    assert.deepEqual([...ids].sort((a, b) => a - b), ids, 'in resourceVersion order');
    w.close();
  });

  it('resumes strictly after a resourceVersion with nothing lost or repeated', async () => {
    const rv0 = s.store.currentResourceVersion();
    const full = await WatchStream.open(s, `${SESSIONS}?watch=1&resourceVersion=${rv0}`);
    const written: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = i % 3 === 2 ? await s.req('PATCH', `${SESSIONS}/r-${i - 1}`, { spec: { ttlSeconds: i } }, MERGE) : await s.req('POST', SESSIONS, session(`r-${i}`));
      written.push(`${i % 3 === 2 ? 'MODIFIED' : 'ADDED'}:${r.body.metadata.name}:${r.body.metadata.resourceVersion}`);
    }
    await full.waitFor(20);
    assert.deepEqual(rvs(full.events), written, 'the stream is exactly the write log');
    const mid = full.events[9]!.object.metadata.resourceVersion;
    const resumed = await WatchStream.open(s, `${SESSIONS}?watch=1&resourceVersion=${mid}`);
    await resumed.waitFor(10);
    await sleep(100);
    assert.deepEqual(rvs(resumed.events), written.slice(10));
    full.close();
    resumed.close();
  });

  it('watches one object with fieldSelector=metadata.name, and across namespaces', async () => {
    const one = await WatchStream.open(s, `${SESSIONS}?watch=1&fieldSelector=metadata.name%3Dw-1`);
    const all = await WatchStream.open(s, `/apis/${GV}/sessions?watch=1&resourceVersion=${s.store.currentResourceVersion()}`);
    assert.equal((await one.next()).object.metadata.name, 'w-1');
    await s.req('POST', `/apis/${GV}/namespaces/elsewhere/sessions`, session('w-other'));
    await s.req('PATCH', `${SESSIONS}/w-1`, { spec: { ttlSeconds: 4 } }, MERGE);
    const e = await one.next();
    assert.deepEqual([e.type, e.object.metadata.name], ['MODIFIED', 'w-1']);
    const [a, b] = [await all.next(), await all.next()];
    assert.equal(a.object.metadata.namespace, 'elsewhere');
    assert.equal(b.object.metadata.name, 'w-1');
    assert.equal(one.events.length, 2, 'other objects are not sent');
    one.close();
    all.close();
  });

  it('turns label-selector transitions into ADDED and DELETED', async () => {
    const w = await WatchStream.open(s, `${SESSIONS}?watch=1&labelSelector=app%3Dsel`);
    await s.req('POST', SESSIONS, session('t-1', { labels: { app: 'sel' } }));
    await s.req('POST', SESSIONS, session('t-2', { labels: { app: 'other' } }));
    await s.req('PATCH', `${SESSIONS}/t-1`, { metadata: { labels: { app: 'gone' } } }, MERGE);
    await s.req('PATCH', `${SESSIONS}/t-1`, { spec: { ttlSeconds: 1 } }, MERGE);
    await s.req('PATCH', `${SESSIONS}/t-1`, { metadata: { labels: { app: 'sel' } } }, MERGE);
    await s.req('PATCH', `${SESSIONS}/t-1`, { spec: { ttlSeconds: 2 } }, MERGE);
    await s.req('PATCH', `${SESSIONS}/t-2`, { metadata: { labels: { app: 'sel' } } }, MERGE);
    await s.req('DELETE', `${SESSIONS}/t-1`);
    await s.req('DELETE', `${SESSIONS}/w-3`);
    const es = await w.waitFor(6);
    await sleep(100);
    assert.deepEqual(
      w.events.map((e) => `${e.type}:${e.object.metadata.name}`),
      ['ADDED:t-1', 'DELETED:t-1', 'ADDED:t-1', 'MODIFIED:t-1', 'ADDED:t-2', 'DELETED:t-1'],
    );
    assert.equal(es[1]!.object.metadata.labels.app, 'gone', 'DELETED carries the new state');
    w.close();
  });

  it('sends bookmarks with the current resourceVersion, and ends at timeoutSeconds', async () => {
    const t0 = Date.now();
    const w = await WatchStream.open(s, `${SESSIONS}?watch=1&allowWatchBookmarks=true&timeoutSeconds=1&resourceVersion=${s.store.currentResourceVersion()}`);
    await w.end(3000);
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 900 && elapsed < 2500, `ended after ${elapsed} ms`);
    const bms = w.events.filter((e) => e.type === 'BOOKMARK');
    assert.ok(bms.length >= 3, `got ${bms.length} bookmarks`);
    assert.deepEqual(Object.keys(bms[0]!.object).sort(), ['apiVersion', 'kind', 'metadata']);
    assert.equal(bms[0]!.object.kind, 'Session');
    assert.equal(bms.at(-1)!.object.metadata.resourceVersion, String(s.store.currentResourceVersion()));
  });

  it('sendInitialEvents ends the initial state with an initial-events-end bookmark', async () => {
    const w = await WatchStream.open(s, `${SESSIONS}?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`);
    const n = (await s.req('GET', SESSIONS)).body.items.length;
    await w.waitFor(n + 1);
    const es = w.events.filter((e) => e.type !== 'BOOKMARK' || e.object.metadata.annotations);
    assert.ok(es.slice(0, n).every((e) => e.type === 'ADDED'));
    assert.equal(es[n]!.type, 'BOOKMARK');
    assert.equal(es[n]!.object.metadata.annotations['k8s.io/initial-events-end'], 'true');
    w.close();
    const bad = await s.req('GET', `${SESSIONS}?watch=1&sendInitialEvents=true`);
    assert.equal(bad.status, 400);
  });

  it('streams Tables when asked (kubectl get -w)', async () => {
    const w = await WatchStream.open(s, `${SESSIONS}?watch=1&fieldSelector=metadata.name%3Dw-1`, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' });
    const e = await w.next();
    assert.equal(e.object.kind, 'Table');
    assert.ok(e.object.columnDefinitions.length > 0);
    assert.equal(e.object.rows[0].cells[0], 'w-1');
    await s.req('PATCH', `${SESSIONS}/w-1`, { spec: { ttlSeconds: 9 } }, MERGE);
    const m = await w.next();
    assert.equal(m.type, 'MODIFIED');
    assert.equal(m.object.columnDefinitions.length, 0, 'headers only once');
    w.close();
  });

  it('answers 410 Expired for a compacted or future resourceVersion', async () => {
    for (let i = 0; i < 10; i++) await s.req('PATCH', `${SESSIONS}/w-1`, { spec: { ttlSeconds: 100 + i } }, MERGE);
    s.store.compact(3, 0);
    const oldest = s.store.oldestResourceVersion();
    assert.ok(oldest > 2);
    const r = await s.req('GET', `${SESSIONS}?watch=1&resourceVersion=1`);
    assert.equal(r.status, 410);
    assert.equal(r.body.kind, 'Status');
    assert.equal(r.body.reason, 'Expired');
    assert.equal(r.body.code, 410);
    const future = await s.req('GET', `${SESSIONS}?watch=1&resourceVersion=${s.store.currentResourceVersion() + 1000}`);
    assert.equal(future.status, 410);
    const ok = await WatchStream.open(s, `${SESSIONS}?watch=1&resourceVersion=${oldest}`);
    assert.equal(ok.status, 200);
    ok.close();
  });

  it('ends every stream when the server closes', async () => {
    const s2 = await startServer();
    const w = await WatchStream.open(s2, `${SESSIONS}?watch=1`);
    assert.equal(s2.api.hub.size, 1);
    await s2.cleanup();
    await w.end(2000);
    assert.equal(s2.api.hub.size, 0);
  });
});

describe('watch across a restart', () => {
  it('resumes from a resourceVersion written before the restart', async () => {
    const a = await startServer();
    const written: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await a.req('POST', SESSIONS, session(`rs-${i}`));
      written.push(`ADDED:rs-${i}:${r.body.metadata.resourceVersion}`);
    }
    const from = written[1]!.split(':')[2]!;
    await a.stop();
    const b = await startServer({ dir: a.dir });
    try {
      const w = await WatchStream.open(b, `${SESSIONS}?watch=1&resourceVersion=${from}`);
      await w.waitFor(4);
      assert.deepEqual(rvs(w.events), written.slice(2));
      const r = await b.req('PATCH', `${SESSIONS}/rs-0`, { spec: { ttlSeconds: 1 } }, MERGE);
      const e = await w.waitFor(5);
      assert.equal(e[4]!.object.metadata.resourceVersion, r.body.metadata.resourceVersion);
      assert.ok(Number(r.body.metadata.resourceVersion) > Number(written.at(-1)!.split(':')[2]));
      w.close();
    } finally {
      await b.cleanup();
    }
  });
});

describe('slow watchers', () => {
  it('are cut off with an ERROR event once their buffer passes the cap', async () => {
    const s = await startServer({ watch: { maxBufferedBytes: 256 * 1024 } });
    try {
      const http = await import('node:http');
      const u = new URL(`${s.url}${SESSIONS}?watch=1`);
      let received = '';
      let ended = false;
      const req = http.get({ host: u.hostname, port: u.port, path: u.pathname + u.search, headers: { authorization: `Bearer ${s.apiKey}` } }, (res) => {
        res.pause(); // a client that stops reading
        res.on('end', () => (ended = true));
        (globalThis as Record<string, unknown>).__slowRes = res;
      });
      await sleep(100);
      const big = 'x'.repeat(200 * 1024);
      for (let i = 0; i < 60 && s.api.hub.size > 0; i++) {
        const r = await s.req('POST', SESSIONS, { ...session(`big-${i}`), metadata: { name: `big-${i}`, annotations: { pad: big } } });
        assert.equal(r.status, 201, r.text);
      }
      assert.equal(s.api.hub.size, 0, 'the slow watch was closed');
      const res = (globalThis as Record<string, unknown>).__slowRes as import('node:http').IncomingMessage;
      res.setEncoding('utf8');
      res.on('data', (c: string) => (received += c));
      res.resume();
      for (let i = 0; i < 100 && !ended; i++) await sleep(50);
      assert.ok(ended, 'stream ended');
      const last = JSON.parse(received.trim().split('\n').at(-1)!) as WatchEvent;
      assert.equal(last.type, 'ERROR');
      assert.equal(last.object.code, 410);
      assert.equal(last.object.reason, 'Expired');
      req.destroy();
      delete (globalThis as Record<string, unknown>).__slowRes;
    } finally {
      await s.cleanup();
    }
  });
});
