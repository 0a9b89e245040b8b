// The transport against real sockets: retries on resets and refused connections (and none for a
// create that may have happened), deadlines, aborts, TLS, base URLs with a path.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeCert } from '@sandkasten/controller/dist/bin/testutil.js';
import { ConnectionError, NotFoundError, SandboxClient, TimeoutError, Transport } from './index.js';
import { parseWarningHeader } from './transport.js';
import { freePort, liveServer, resettingProxy, workspace, type LiveServer } from './testutil.js';

const fastRetry = { baseDelayMs: 20, maxDelayMs: 200 };

describe('retries', () => {
  let srv: LiveServer;
  before(async () => {
    srv = await liveServer();
  });
  after(() => srv.cleanup());

  test('idempotent calls are retried on connection resets', async () => {
    await new SandboxClient({ baseUrl: srv.url, apiKey: srv.apiKey }).create(workspace('rs1'));
    const proxy = await resettingProxy(srv.port, 2);
    const c = new SandboxClient({ baseUrl: `http://127.0.0.1:${proxy.port}`, apiKey: srv.apiKey, retry: fastRetry });
    try {
      const w = await c.get('ws', 'rs1');
      assert.equal(w.metadata.name, 'rs1');
      assert.equal(proxy.accepted(), 3, 'two reset connections, then one that worked');
    } finally {
      c.close();
      await proxy.close();
    }
  });

  test('a create is not retried after a reset (it may have happened); the error says why', async () => {
    const proxy = await resettingProxy(srv.port, 1);
    const c = new SandboxClient({ baseUrl: `http://127.0.0.1:${proxy.port}`, apiKey: srv.apiKey, retry: fastRetry });
    try {
      const e = await c.create(workspace('rs2')).catch((x: unknown) => x);
      assert.ok(e instanceof ConnectionError, String(e));
      assert.equal(e.code, 'ECONNRESET');
      assert.match(e.message, /cannot reach http:\/\/127.0.0.1:\d+: connection reset by the server/);
      assert.equal(proxy.accepted(), 1);
      const direct = new SandboxClient({ baseUrl: srv.url, apiKey: srv.apiKey });
      await assert.rejects(direct.get('ws', 'rs2'), NotFoundError, 'the reset came before the server saw the request');
      direct.close();
      // apply is an upsert, so it is retried
      const applied = await c.apply(workspace('rs2'));
      assert.equal(applied.metadata.name, 'rs2');
      // a JSON patch is not idempotent; a merge patch is
      const proxy2 = await resettingProxy(srv.port, 1);
      const c2 = new SandboxClient({ baseUrl: `http://127.0.0.1:${proxy2.port}`, apiKey: srv.apiKey, retry: fastRetry });
      await assert.rejects(c2.patch('ws', 'rs2', [{ op: 'add', path: '/metadata/labels', value: { a: '1' } }], { type: 'json' }), ConnectionError);
      c2.close();
      await proxy2.close();
    } finally {
      c.close();
      await proxy.close();
    }
  });

  test('calls during a daemon restart wait for it (connection refused is always retried)', async () => {
    const c = new SandboxClient({ baseUrl: srv.url, apiKey: srv.apiKey, retry: { baseDelayMs: 50 } });
    try {
      await c.list('ws'); // a keep-alive connection exists
      await srv.down();
      const back = setTimeout(() => void srv.up(), 400);
      const t0 = Date.now();
      const [list, created] = await Promise.all([c.list('ws'), c.create(workspace('rs3'))]);
      clearTimeout(back);
      assert.ok(Date.now() - t0 >= 300, 'they waited for the server');
      assert.ok(list.items.length >= 1);
      assert.equal(created.metadata.name, 'rs3');
    } finally {
      c.close();
      await srv.up();
    }
  });

  test('a daemon that stays down: ConnectionError after the attempts', async () => {
    const port = await freePort();
    const c = new SandboxClient({ baseUrl: `http://127.0.0.1:${port}`, retry: { attempts: 3, baseDelayMs: 10 } });
    const e = await c.list('sessions').catch((x: unknown) => x);
    assert.ok(e instanceof ConnectionError);
    assert.equal(e.code, 'ECONNREFUSED');
    assert.match(e.message, /connection refused \(is the daemon running\?\)/);
  });
});

describe('deadlines and aborts', () => {
  let silent: net.Server;
  let port = 0;
  const sockets = new Set<net.Socket>();
  before(async () => {
    // Accepts and reads, never answers.
    silent = net.createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.resume();
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    port = (silent.address() as net.AddressInfo).port;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
  });

  test('no answer within timeoutMs: a TimeoutError made by the client', async () => {
    const c = new SandboxClient({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 200 });
    const t0 = Date.now();
    const e = await c.get('ses', 'x').catch((x: unknown) => x);
    assert.ok(e instanceof TimeoutError, String(e));
    assert.equal(e.reason, 'Timeout');
    assert.match(e.message, /no answer within 200 ms/);
    assert.ok(Date.now() - t0 < 2000);
    c.close();
  });

  test('an aborted signal rejects with an AbortError', async () => {
    const t = new Transport({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 0 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(t.request({ method: 'GET', path: '/x', signal: ac.signal }), { name: 'AbortError' });
    t.close();
  });
});

test('base URL with a path prefix; invalid base URLs', async () => {
  const seen: string[] = [];
  const s = http.createServer((req, res) => {
    seen.push(req.url!);
    res.setHeader('content-type', 'application/json');
    res.setHeader('warning', ['299 - "one \\"quoted\\""', '299 - "two"']);
    res.end('{"apiVersion":"sandkasten.dev/v1","kind":"WorkspaceList","metadata":{"resourceVersion":"1"},"items":[]}');
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const warnings: string[] = [];
  const c = new SandboxClient({ baseUrl: `http://127.0.0.1:${(s.address() as net.AddressInfo).port}/prefix/`, onWarning: (w) => warnings.push(w) });
  await c.list('ws', { labelSelector: 'a in (b,c)' });
  assert.deepEqual(seen, ['/prefix/apis/sandkasten.dev/v1/namespaces/default/workspaces?labelSelector=a+in+%28b%2Cc%29']);
  assert.deepEqual(warnings, ['one "quoted"', 'two']);
  c.close();
  await new Promise((r) => s.close(r));
  assert.throws(() => new Transport({ baseUrl: 'localhost:8080' }), /invalid baseUrl "localhost:8080"/);
  assert.throws(() => new Transport({ baseUrl: 'ftp://x' }), /scheme must be http or https/);
  assert.deepEqual(parseWarningHeader('299 - "a, b", 299 sandkasten "c"'), ['a, b', 'c']);
});

describe('TLS', () => {
  let dir: string;
  let srv: LiveServer | undefined;
  let cert: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sk-client-tls-'));
    const files = makeCert(dir);
    if (!files) return;
    cert = readFileSync(files.cert, 'utf8');
    srv = await liveServer({ tls: { cert, key: readFileSync(files.key, 'utf8') } });
  });
  after(async () => {
    await srv?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test('trusts the given CA, refuses an unknown one, or skips verification when asked', async (t) => {
    if (!srv) return t.skip('openssl is not installed');
    const ok = new SandboxClient({ baseUrl: srv.url, apiKey: srv.apiKey, tls: { ca: cert } });
    await assert.rejects(ok.get('ws', 'none'), NotFoundError);
    ok.close();
    const untrusted = new SandboxClient({ baseUrl: srv.url, apiKey: srv.apiKey });
    const e = await untrusted.list('ws').catch((x: unknown) => x);
    assert.ok(e instanceof ConnectionError, String(e));
    assert.match(e.code, /SELF_SIGNED/);
    untrusted.close();
    const insecure = new SandboxClient({ baseUrl: srv.url, apiKey: srv.apiKey, tls: { insecureSkipVerify: true } });
    assert.equal((await insecure.list('ws')).kind, 'WorkspaceList');
    // watch streams use their own connection with the same TLS settings
    const ac = new AbortController();
    for await (const ev of insecure.watch('ws', { signal: ac.signal, bookmarks: true })) {
      assert.equal(ev.type, 'BOOKMARK');
      ac.abort();
    }
    insecure.close();
  });
});
