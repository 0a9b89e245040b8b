// GET …/attach as a WebSocket: the PTY plumbing (bytes both ways, resize, exit, hang-up on close)
// and the upgrade's authentication. The terminal here is a host bash; the end-to-end test runs the
// real `node-agent exec` into a sandbox.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
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
