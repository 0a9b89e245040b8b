// Streamed request bodies against real HTTP servers: sent as they are read (chunked), with
// backpressure; an answer before the body is done stops the sending; a failing source is that
// failure (not a connection error); nothing streamed is ever retried.

import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { ConnectionError, Transport } from './index.js';
import { resettingProxy } from './testutil.js';

describe('streamed request bodies', () => {
  let server: http.Server;
  let handle: (req: http.IncomingMessage, res: http.ServerResponse) => void = () => {};
  let base: string;
  let requests = 0;

  before(async () => {
    server = http.createServer((req, res) => {
      requests++;
      handle(req, res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const counting = (req: http.IncomingMessage, res: http.ServerResponse) => {
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => res.end(JSON.stringify({ bytes: n, te: req.headers['transfer-encoding'] ?? null, cl: req.headers['content-length'] ?? null })));
  };

  test('an async iterable and a Readable are sent chunked as they are produced; content-length when given', async () => {
    handle = counting;
    const t = new Transport({ baseUrl: base });
    let produced = 0;
    async function* gen() {
      for (let i = 0; i < 64; i++) {
        produced++;
        yield Buffer.alloc(256 << 10, i);
      }
    }
    let r = await t.request({ method: 'PUT', path: '/x', body: gen() });
    assert.deepEqual(JSON.parse(r.body.toString()), { bytes: 64 * (256 << 10), te: 'chunked', cl: null });
    assert.equal(produced, 64);
    r = await t.request({ method: 'PUT', path: '/x', body: Readable.from([Buffer.from('abc'), Buffer.from('de')]), headers: { 'content-length': '5' } });
    assert.deepEqual(JSON.parse(r.body.toString()), { bytes: 5, te: null, cl: '5' });
    t.close();
  });

  test('the source is read only as fast as the server takes it', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    handle = (req, res) => {
      req.pause();
      void gate.then(() => {
        counting(req, res);
        req.resume();
      });
    };
    const t = new Transport({ baseUrl: base });
    let produced = 0;
    const src = new Readable({
      read() {
        produced++;
        this.push(produced <= 2000 ? Buffer.alloc(64 << 10) : null);
      },
    });
    const sending = t.request({ method: 'PUT', path: '/x', body: src, timeoutMs: 30_000 });
    let waiting: number;
    try {
      await new Promise((r) => setTimeout(r, 300));
      waiting = produced;
    } finally {
      release();
    }
    const r = await sending;
    assert.ok(waiting < 400, `only what fits in the socket buffers is read while the server does not read (${waiting} chunks of 2000)`);
    assert.equal(JSON.parse(r.body.toString()).bytes, 2000 * (64 << 10));
    t.close();
  });

  test('an answer before the body is sent: the answer, and the source is stopped', async () => {
    handle = (_req, res) => {
      res.writeHead(413, { 'content-type': 'application/json', connection: 'close' });
      res.end('{"kind":"Status","apiVersion":"v1","status":"Failure","code":413,"reason":"RequestEntityTooLarge","message":"too big"}');
    };
    const t = new Transport({ baseUrl: base });
    let destroyed = false;
    let produced = 0;
    const endless = new Readable({
      read() {
        produced++;
        this.push(Buffer.alloc(64 << 10));
      },
      destroy(err, cb) {
        destroyed = true;
        cb(err);
      },
    });
    const r = await t.request({ method: 'PUT', path: '/x', body: endless, timeoutMs: 5000 });
    assert.equal(r.status, 413);
    assert.match(r.body.toString(), /too big/);
    await new Promise((res) => setTimeout(res, 100));
    assert.ok(destroyed, 'the endless source was stopped');
    const at = produced;
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(produced, at, 'and is no longer read');
    t.close();
  });

  test('a failing source rejects with its own error; a refused connection is not retried for a stream', async () => {
    handle = counting;
    const t = new Transport({ baseUrl: base, retry: { attempts: 5, baseDelayMs: 10 } });
    const before = requests;
    async function* failing() {
      yield Buffer.from('part');
      throw Object.assign(new Error('EIO: the disk failed'), { code: 'EIO' });
    }
    await assert.rejects(t.request({ method: 'PUT', path: '/x', body: failing() }), (e: Error) => !(e instanceof ConnectionError) && /the disk failed/.test(e.message));
    assert.ok(requests - before <= 1, 'sent once at most');
    t.close();

    // Even marked idempotent, a streamed body is not sent again after a reset: it was read once.
    const proxy = await resettingProxy(Number(new URL(base).port), 1);
    const viaProxy = new Transport({ baseUrl: `http://127.0.0.1:${proxy.port}`, retry: { attempts: 5, baseDelayMs: 10 } });
    async function* body() {
      yield Buffer.from('x');
    }
    await assert.rejects(viaProxy.request({ method: 'PUT', path: '/x', body: body(), idempotent: true }), (e: ConnectionError) => e instanceof ConnectionError && e.code === 'ECONNRESET');
    assert.equal(proxy.accepted(), 1);
    // The same request with a whole body is retried.
    const r = await viaProxy.request({ method: 'PUT', path: '/x', body: 'x', idempotent: true });
    assert.equal(JSON.parse(r.body.toString()).bytes, 1);
    viaProxy.close();
    await proxy.close();
  });
});
