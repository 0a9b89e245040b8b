// The plain node:http front: body reading (cap, encodings, chunked), path decoding, the hand-off
// of other paths to express (extensions behind authentication), trace lines, keep-alive reuse.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { gzipSync } from 'node:zlib';
import { createLogger, type LogLevel } from './logger.js';
import { SESSIONS, session, startServer, WatchStream, type TestServer } from './testutil.js';

interface RawReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** One request on `agent` with exactly the given headers and body chunks (no fetch defaults). */
function raw(s: TestServer, method: string, path: string, headers: Record<string, string>, chunks: Buffer[], agent?: http.Agent): Promise<RawReply> {
  const u = new URL(s.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path, agent, headers: { authorization: `Bearer ${s.apiKey}`, ...headers } }, (res) => {
      const got: Buffer[] = [];
      res.on('data', (c: Buffer) => got.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(got).toString() }));
    });
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('front: request bodies', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ config: { max_body_bytes: 4096 } });
  });
  after(async () => {
    await s.cleanup();
  });

  it('reads gzip and deflate bodies; an unknown Content-Encoding is 415', async () => {
    const body = gzipSync(json(session('gz')));
    let r = await raw(s, 'POST', SESSIONS, { 'content-type': 'application/json', 'content-encoding': 'gzip' }, [body]);
    assert.equal(r.status, 201, r.text);
    assert.equal(JSON.parse(r.text).metadata.name, 'gz');
    r = await raw(s, 'POST', SESSIONS, { 'content-type': 'application/json', 'content-encoding': 'gzip' }, [Buffer.from('not gzip')]);
    assert.equal(r.status, 400, r.text);
    assert.equal(JSON.parse(r.text).reason, 'BadRequest');
    r = await raw(s, 'POST', SESSIONS, { 'content-type': 'application/json', 'content-encoding': 'zstd-x' }, [json(session('zz'))]);
    assert.equal(r.status, 415, r.text);
    assert.match(JSON.parse(r.text).message, /unsupported content encoding "zstd-x"/);
  });

  it('caps bodies with and without Content-Length, inflated ones too, and keeps the connection usable', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const big = json({ ...session('big'), metadata: { name: 'big', annotations: { a: 'x'.repeat(8000) } } });
      // Chunked: no Content-Length, the cap is found while reading.
      let r = await raw(s, 'POST', SESSIONS, { 'content-type': 'application/json' }, [big.subarray(0, 3000), big.subarray(3000)], agent);
      assert.equal(r.status, 413, r.text);
      assert.equal(JSON.parse(r.text).reason, 'RequestEntityTooLarge');
      r = await raw(s, 'POST', SESSIONS, { 'content-type': 'application/json', 'content-length': String(big.length) }, [big], agent);
      assert.equal(r.status, 413);
      // Small on the wire, too big once inflated.
      r = await raw(s, 'POST', SESSIONS, { 'content-type': 'application/json', 'content-encoding': 'gzip' }, [gzipSync(big)], agent);
      assert.equal(r.status, 413);
      r = await raw(s, 'POST', SESSIONS, { 'content-type': 'application/json' }, [json(session('after-413'))], agent);
      assert.equal(r.status, 201, 'the next request on the connection is served');
    } finally {
      agent.destroy();
    }
  });

  it('answers a bad percent-encoding in the path with 400, not 500', async () => {
    const r = await raw(s, 'GET', `${SESSIONS}/%E0%A4%A`, {}, []);
    assert.equal(r.status, 400, r.text);
    assert.match(JSON.parse(r.text).message, /percent-encoding/);
  });

  it('answers HEAD on the health endpoints without a body', async () => {
    const r = await raw(s, 'HEAD', '/healthz', {}, []);
    assert.equal(r.status, 200);
    assert.equal(r.text, '');
    assert.equal(r.headers['content-length'], String(Buffer.byteLength('{"status":"ok"}')));
  });
});

describe('front: paths it does not serve go to express', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({
      apiKey: 'k',
      extend: (router) => router.post('/apis/sandkasten.dev/v1/namespaces/:ns/sessions/:name/exec', (req, res) => void res.json({ ns: req.params.ns, name: req.params.name })),
    });
  });
  after(async () => {
    await s.cleanup();
  });

  it('serves extension routes beside the resources, behind authentication', async () => {
    let r = await s.req('POST', `${SESSIONS}/x/exec`, {});
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, { ns: 'default', name: 'x' });
    const anon = await fetch(`${s.url}${SESSIONS}/x/exec`, { method: 'POST' });
    assert.equal(anon.status, 401);
    r = await s.req('POST', `${SESSIONS}/x/nope`, {});
    assert.equal(r.status, 404);
    assert.equal(r.body.kind, 'Status');
  });
});

describe('front: trace lines', () => {
  async function withLog(level: LogLevel, run: (s: TestServer) => Promise<void>): Promise<string[]> {
    const lines: string[] = [];
    const out = { write: (l: string) => lines.push(l.replace(/^\S+ /, '').trimEnd()) } as unknown as NodeJS.WritableStream;
    const s = await startServer({ logger: createLogger(level, out) });
    try {
      await run(s);
    } finally {
      await s.cleanup();
    }
    return lines;
  }

  it('writes one line per request at debug, with the status of what was answered', async () => {
    const lines = await withLog('debug', async (s) => {
      await s.req('POST', SESSIONS, session('t1'));
      await s.req('GET', `${SESSIONS}/t1`);
      await s.req('GET', `${SESSIONS}/missing`);
      await s.req('GET', '/apis');
      const w = await WatchStream.open(s, `${SESSIONS}?watch=1`);
      await w.next();
      w.close();
      await w.end();
      await new Promise((r) => setTimeout(r, 50));
    });
    const traces = lines.filter((l) => / => \d{3} \(\d+\.\d ms\)$/.test(l));
    assert.deepEqual(
      traces.map((l) => l.replace(/ \(.*$/, '')),
      [
        `DEBUG POST ${SESSIONS} => 201`,
        `DEBUG GET ${SESSIONS}/t1 => 200`,
        `DEBUG GET ${SESSIONS}/missing => 404`,
        'DEBUG GET /apis => 200',
        `DEBUG GET ${SESSIONS}?watch=1 => 200`,
      ],
    );
  });

  it('at info writes only client errors (warn) and server errors', async () => {
    const lines = await withLog('info', async (s) => {
      await s.req('POST', SESSIONS, session('t2'));
      await s.req('GET', `${SESSIONS}/t2`);
      await s.req('GET', `${SESSIONS}/missing`);
      await s.req('GET', `${SESSIONS}?limit=x`);
    });
    assert.deepEqual(
      lines.map((l) => l.replace(/ \(.*$/, '')),
      [`WARN GET ${SESSIONS}?limit=x => 400`],
    );
  });
});
