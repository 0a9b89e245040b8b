// GET …/attach as a WebSocket: the PTY plumbing (bytes both ways, resize, exit, hang-up on close)
// and the upgrade's authentication. The terminal here is a host bash; the end-to-end test runs the
// real `node-agent exec` into a sandbox.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { BEARER_PROTOCOL_PREFIX } from '../apiserver/upgrade.js';
import { API_KEY, isRoot, json, startHarness, Term, waitGone, type Harness } from './testutil.js';

const bearer = { authorization: `Bearer ${API_KEY}` };

describe('attach subresource (host shell)', { skip: !isRoot && 'needs root (the runner runs in its own namespaces)', timeout: 60_000 }, () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      terminal: () => ({ file: '/bin/bash', args: ['--norc', '--noprofile', '-i'], env: { PATH: '/usr/bin:/bin', TERM: 'xterm-256color', PS1: '$ ' } }),
    });
    await h.session('s');
  });
  after(() => h?.close());

  test('bytes both ways, resize, and the process is gone after the socket closes', async () => {
    const t = await Term.open(h.sub('s', 'attach', { cols: '90', rows: '30' }), { headers: bearer });
    t.send('echo hi$((1+1))\r');
    await t.waitFor(/hi2/);
    t.send('stty size\r');
    await t.waitFor(/30 90/);
    t.control({ type: 'resize', cols: 120, rows: 40 });
    const mark = t.out.length;
    t.send('stty size; echo pid=$$\r');
    await t.waitFor(/40 120/, 5000, mark);
    const pid = Number((await t.waitFor(/pid=(\d+)/, 5000, mark))[1]);
    assert.ok(existsSync(`/proc/${pid}`));
    t.ws.close();
    await t.closed;
    assert.ok(await waitGone(pid, 4000), 'the shell ended after the hang-up');
  });

  test('the process exiting sends an exit message and closes the socket', async () => {
    const t = await Term.open(h.sub('s', 'attach'), { headers: bearer });
    t.send('exit 3\r');
    const c = await t.closed;
    assert.equal(c.code, 1000);
    assert.deepEqual(t.controls.at(-1), { type: 'exit', exitCode: 3, signal: null });
  });

  test('control messages: bad ones are answered with an error, the terminal goes on', async () => {
    const t = await Term.open(h.sub('s', 'attach'), { headers: bearer });
    t.ws.send('not json');
    t.control({ type: 'resize', cols: 0, rows: 5 });
    t.control({ type: 'paste' });
    t.send('echo still$((2*3))\r');
    await t.waitFor(/still6/);
    assert.deepEqual(
      t.controls.map((c) => c.type),
      ['error', 'error', 'error'],
    );
    assert.match(String(t.controls[1]!.message), /between 1 and 1000/);
    t.ws.close();
    await t.closed;
  });

  test('auth: the header or the bearer subprotocol; without a token 401', async () => {
    await assert.rejects(Term.open(h.sub('s', 'attach')), (e: { status?: number; body?: string }) => {
      assert.equal(e.status, 401);
      assert.equal(JSON.parse(e.body!).reason, 'Unauthorized');
      return true;
    });
    await assert.rejects(Term.open(h.sub('s', 'attach'), { protocols: [`${BEARER_PROTOCOL_PREFIX}${Buffer.from('wrong').toString('base64url')}`] }), /HTTP 401/);
    const token = `${BEARER_PROTOCOL_PREFIX}${Buffer.from(API_KEY).toString('base64url')}`;
    const t = await Term.open(h.sub('s', 'attach'), { protocols: [token, 'tty.sandkasten.dev'] });
    assert.equal(t.ws.protocol, 'tty.sandkasten.dev', 'the token is never echoed back');
    t.send('echo ok$((40+2))\r');
    await t.waitFor(/ok42/);
    t.ws.close();
    await t.closed;
  });

  test('not a WebSocket 400, unknown session 404, not Ready 409, bad size 400', async () => {
    let r = await h.fetch(h.sub('s', 'attach'));
    assert.equal(r.status, 400);
    assert.match((await json(r)).message, /WebSocket/);
    await assert.rejects(Term.open(h.sub('nope', 'attach'), { headers: bearer }), /HTTP 404/);
    await h.session('pending', { phase: 'Pending' });
    await assert.rejects(Term.open(h.sub('pending', 'attach'), { headers: bearer }), (e: { status?: number; body?: string }) => {
      assert.equal(e.status, 409);
      assert.match(JSON.parse(e.body!).message, /session pending is Pending; wait for condition Ready/);
      return true;
    });
    await assert.rejects(Term.open(h.sub('s', 'attach', { cols: '5000' }), { headers: bearer }), /HTTP 400/);
    r = await h.fetch(h.sub('s', 'attach'), { method: 'POST' });
    assert.equal(r.status, 405);
    await r.text();
  });

  test('a client that stops reading holds the terminal back instead of filling the daemon\'s memory', async () => {
    const ws = new WebSocket(h.sub('s', 'attach').replace(/^http/, 'ws'), { headers: bearer });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    let bytes = 0;
    let tail = '';
    ws.on('message', (d: Buffer, binary) => {
      if (!binary) return;
      bytes += d.length;
      tail = (tail + d.toString('latin1')).slice(-64);
    });
    const total = 64 * 1024 * 1024;
    ws.send(Buffer.from(`head -c ${total} /dev/zero | tr '\\0' x; echo; echo END$((1+1))\r`), { binary: true });
    await new Promise((r) => setTimeout(r, 300));
    // Stop reading: the kernel buffers fill, then the daemon's queue, then the PTY is paused.
    const sock = (ws as unknown as { _socket: import('node:net').Socket })._socket;
    sock.pause();
    const base = process.memoryUsage().rss;
    let peak = base;
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 50));
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    const stalledAt = bytes;
    console.log(`# stalled at ${stalledAt} bytes, RSS +${((peak - base) / 1048576).toFixed(1)} MiB`);
    assert.ok(stalledAt < total / 2, `the output went on while nobody read (${stalledAt} bytes)`);
    assert.ok((peak - base) / 1024 / 1024 < 32, `RSS grew ${((peak - base) / 1024 / 1024).toFixed(1)} MiB`);
    sock.resume();
    const end = Date.now() + 30_000;
    while (!/END2/.test(tail) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    assert.match(tail, /END2/, 'everything arrives once the client reads again');
    assert.ok(bytes >= total, `${bytes} bytes`);
    ws.close();
  });

  test('closing the API server ends open terminals', async () => {
    const h2 = await startHarness({ terminal: () => ({ file: '/bin/bash', args: ['--norc', '--noprofile', '-i'], env: { PATH: '/usr/bin:/bin', PS1: '$ ' } }) });
    try {
      await h2.session('s');
      const t = await Term.open(h2.sub('s', 'attach'), { headers: bearer });
      t.send('echo pid=$$\r');
      const pid = Number((await t.waitFor(/pid=(\d+)/))[1]);
      const closing = h2.api.close(200);
      await t.closed;
      await closing;
      assert.ok(await waitGone(pid, 4000));
    } finally {
      await h2.close();
    }
  });
});
