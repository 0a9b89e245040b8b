// The HTTP lister-watcher against a real HTTP server on 127.0.0.1 that writes the wire format
// byte by byte as the test dictates: split lines, split UTF-8, bookmarks, ERROR events, 410s.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { GoneError, HttpError, WatchError } from './errors.js';
import { httpListerWatcher, parseEventStream } from './http-listerwatcher.js';
import { Informer } from './informer.js';
import type { WatchEvent } from './types.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

async function serve(t: { after(fn: () => Promise<void>): void }, handler: Handler) {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.headers.authorization ?? '-'} ${req.url}`);
    void handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

const obj = (name: string, rv: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'sandkasten.dev/v1',
  kind: 'Session',
  metadata: { name, namespace: 'ns', resourceVersion: rv },
  spec: { image: 'x', ...extra },
});
const line = (type: string, object: unknown) => JSON.stringify({ type, object }) + '\n';
const status = (code: number, reason: string, message: string) => ({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message });

async function collect(it: AsyncIterable<WatchEvent>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of it) out.push(`${e.type} ${'name' in e.object.metadata ? e.object.metadata.name : '-'} ${e.object.metadata.resourceVersion}`);
  return out;
}

async function* chunks(...parts: Array<string | Uint8Array>): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield typeof p === 'string' ? new TextEncoder().encode(p) : p;
}

test('event lines split anywhere across chunks — even inside a UTF-8 character — parse whole', async () => {
  const text = line('ADDED', obj('a', '1', { note: 'grüße 🌍' })) + line('MODIFIED', obj('a', '2')) + line('BOOKMARK', { kind: 'Session', metadata: { resourceVersion: '7' } });
  const bytes = new TextEncoder().encode(text);
  // Every split point, so each boundary (mid-line, mid-character, at a newline) is exercised.
  for (let cut = 1; cut < bytes.length; cut += 3) {
    const events = await collect(parseEventStream(chunks(bytes.slice(0, cut), bytes.slice(cut)), 'w'));
    assert.deepEqual(events, ['ADDED a 1', 'MODIFIED a 2', 'BOOKMARK - 7'], `split at byte ${cut}`);
  }
  const one: WatchEvent[] = [];
  for await (const e of parseEventStream(chunks(text.slice(0, 40), text.slice(40)), 'w')) one.push(e);
  assert.equal((one[0]!.object as { spec?: { note?: string } }).spec?.note, 'grüße 🌍');
});

test('an unterminated last line still parses; blank lines are skipped; garbage is a WatchError', async () => {
  assert.deepEqual(await collect(parseEventStream(chunks('\n', line('ADDED', obj('a', '1')), '\n\n', JSON.stringify({ type: 'DELETED', object: obj('a', '2') })), 'w')), [
    'ADDED a 1',
    'DELETED a 2',
  ]);
  await assert.rejects(collect(parseEventStream(chunks('{"type":"ADDED","obj'), 'w')), WatchError);
  await assert.rejects(collect(parseEventStream(chunks('not json\n'), 'w')), /malformed event line/);
  await assert.rejects(collect(parseEventStream(chunks(line('SOMETHING', obj('a', '1'))), 'w')), /without a known type/);
  await assert.rejects(collect(parseEventStream(chunks(line('ADDED', { metadata: {} })), 'w')), /without metadata.name/);
  await assert.rejects(collect(parseEventStream(chunks(line('BOOKMARK', { metadata: {} })), 'w')), /BOOKMARK without/);
});

test('an ERROR event with code 410 is a GoneError, any other ERROR a WatchError', async () => {
  const gone = collect(parseEventStream(chunks(line('ADDED', obj('a', '1')), line('ERROR', status(410, 'Expired', 'too old resource version: 1 (5)'))), 'w'));
  await assert.rejects(gone, (e) => e instanceof GoneError && /too old resource version/.test(e.message));
  await assert.rejects(collect(parseEventStream(chunks(line('ERROR', status(500, 'InternalError', 'oops'))), 'w')), (e) => e instanceof WatchError && /oops/.test(e.message));
});

test('list and watch speak the API: bearer token, label selector, watch parameters, list rv', async (t) => {
  const { baseUrl, requests } = await serve(t, (req, res) => {
    const url = new URL(req.url!, 'http://x');
    res.setHeader('content-type', 'application/json');
    if (url.searchParams.get('watch') !== '1') {
      res.end(JSON.stringify({ kind: 'SessionList', metadata: { resourceVersion: '10' }, items: [obj('a', '9')] }));
      return;
    }
    res.write(line('ADDED', obj('b', '11')));
    res.end(line('BOOKMARK', { kind: 'Session', metadata: { resourceVersion: '12' } }));
  });
  const lw = httpListerWatcher({ baseUrl: baseUrl + '/', token: 't0k', path: '/apis/sandkasten.dev/v1/sessions', labelSelector: 'app=web' });
  const list = await lw.list();
  assert.equal(list.resourceVersion, '10');
  assert.deepEqual(list.items.map((o) => o.metadata.name), ['a']);
  assert.deepEqual(await collect(lw.watch('10', new AbortController().signal)), ['ADDED b 11', 'BOOKMARK - 12']);
  assert.deepEqual(requests, [
    'Bearer t0k /apis/sandkasten.dev/v1/sessions?labelSelector=app%3Dweb',
    'Bearer t0k /apis/sandkasten.dev/v1/sessions?labelSelector=app%3Dweb&watch=1&resourceVersion=10&allowWatchBookmarks=true',
  ]);
});

test('HTTP errors carry the Status; a 410 before the stream is a GoneError', async (t) => {
  const { baseUrl } = await serve(t, (req, res) => {
    const url = new URL(req.url!, 'http://x');
    res.setHeader('content-type', 'application/json');
    if (url.pathname.endsWith('/denied')) {
      res.statusCode = 401;
      res.end(JSON.stringify(status(401, 'Unauthorized', 'Unauthorized')));
    } else if (url.pathname.endsWith('/plain')) {
      res.statusCode = 502;
      res.end('bad gateway');
    } else if (url.pathname.endsWith('/notalist')) {
      res.end(JSON.stringify({ kind: 'Session' }));
    } else {
      res.statusCode = 410;
      res.end(JSON.stringify(status(410, 'Expired', 'too old resource version: 3 (8)')));
    }
  });
  const lw = (path: string) => httpListerWatcher({ baseUrl, path });
  await assert.rejects(lw('/denied').list(), (e) => e instanceof HttpError && e.status === 401 && e.reason === 'Unauthorized');
  await assert.rejects(lw('/plain').list(), (e) => e instanceof HttpError && e.status === 502 && /HTTP 502/.test(e.message));
  await assert.rejects(lw('/notalist').list(), /not a list/);
  await assert.rejects(collect(lw('/gone').watch('3', new AbortController().signal)), (e) => e instanceof GoneError && /too old/.test(e.message));
});

test('aborting the signal ends a quiet watch without an error and closes its connection', async (t) => {
  let closed!: () => void;
  const connectionClosed = new Promise<void>((r) => (closed = r));
  const { baseUrl } = await serve(t, (req, res) => {
    res.write(line('ADDED', obj('a', '1')));
    req.socket.on('close', closed); // then nothing more: a quiet watch
  });
  const ac = new AbortController();
  const seen: string[] = [];
  const done = (async () => {
    for await (const e of httpListerWatcher({ baseUrl, path: '/w' }).watch('0', ac.signal)) seen.push(e.type);
  })();
  while (seen.length === 0) await delay(5);
  ac.abort();
  await done; // ends quietly: stopping is not an error
  await connectionClosed;
});

test('an informer follows BOOKMARKs and re-lists when a watch reports 410 mid-stream', async (t) => {
  let lists = 0;
  const watches: string[] = [];
  const { baseUrl } = await serve(t, (req, res) => {
    const url = new URL(req.url!, 'http://x');
    res.setHeader('content-type', 'application/json');
    if (url.searchParams.get('watch') !== '1') {
      lists++;
      const items = lists === 1 ? [obj('a', '5'), obj('b', '5')] : [obj('b', '20'), obj('c', '21')];
      res.end(JSON.stringify({ kind: 'SessionList', metadata: { resourceVersion: lists === 1 ? '5' : '21' }, items }));
      return;
    }
    const rv = url.searchParams.get('resourceVersion')!;
    watches.push(rv);
    if (rv === '5') res.end(line('BOOKMARK', { metadata: { resourceVersion: '9' } }));
    else if (rv === '9') res.end(line('ERROR', status(410, 'Expired', 'too old resource version: 9 (15)')));
    else res.write(line('MODIFIED', obj('c', '22'))); // then stays open
  });
  const informer = new Informer({ listerWatcher: httpListerWatcher({ baseUrl, path: '/w' }), backoff: { initialMs: 10, maxMs: 50 } });
  t.after(() => informer.stop());
  const deleted: string[] = [];
  informer.addEventHandler({ onDelete: (o) => deleted.push(o.metadata.name) });
  informer.start();
  await informer.waitForSync({ timeoutMs: 5_000 });
  for (let i = 0; i < 500 && informer.resourceVersion !== '22'; i++) await delay(10);
  assert.equal(informer.resourceVersion, '22');
  assert.deepEqual(watches.slice(0, 3), ['5', '9', '21'], 'resumed from the bookmark, then from the re-list');
  assert.equal(lists, 2);
  assert.deepEqual(informer.keys().sort(), ['ns/b', 'ns/c']);
  assert.deepEqual(deleted, ['a']);
});

test('aborting before the server answers ends the watch quietly too', async (t) => {
  const { baseUrl } = await serve(t, () => {}); // never answers
  const ac = new AbortController();
  const done = collect(httpListerWatcher({ baseUrl, path: '/w' }).watch('0', ac.signal));
  await delay(20);
  ac.abort();
  assert.deepEqual(await done, []);
});

test('a server cutting the connection mid-line is an error, not a truncated event', async (t) => {
  const { baseUrl } = await serve(t, (_req, res) => {
    res.write(line('ADDED', obj('a', '1')) + '{"type":"MODIFIED","obj');
    setTimeout(() => res.socket?.destroy(), 20);
  });
  const seen: string[] = [];
  await assert.rejects(async () => {
    for await (const e of httpListerWatcher({ baseUrl, path: '/w' }).watch('0', new AbortController().signal)) seen.push(e.type);
  });
  assert.deepEqual(seen, ['ADDED']);
});

test('a list that gets no answer in time fails with a clear error and closes its connection', async (t) => {
  let closed = false;
  const { baseUrl } = await serve(t, (req) => void req.socket.on('close', () => (closed = true))); // never answers
  await assert.rejects(httpListerWatcher({ baseUrl, path: '/w', listTimeoutMs: 50 }).list(), /list \/w: no complete answer within 50 ms/);
  while (!closed) await delay(5);
});

test('a list body that is not JSON is a clear error', async (t) => {
  const { baseUrl } = await serve(t, (_req, res) => void res.end('<html>proxy error</html>'));
  await assert.rejects(httpListerWatcher({ baseUrl, path: '/w' }).list(), /list \/w: response is not JSON/);
  await assert.rejects(httpListerWatcher({ baseUrl: 'ftp://127.0.0.1', path: '/w' }).list(), /unsupported URL scheme/);
});
