// The attach client against the real daemon and a real sandbox: a shell's output and exit code,
// window sizes (at connect and on resize), the detach key, and refusals with the server's message.

import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import { SandboxClient } from '@sandkasten/client';
import { removeDir, startDaemon, tempDir, type Daemon } from '@sandkasten/controller/dist/bin/testutil.js';
import { AttachError, attachUrl, openAttach, runTerminal, type AttachTarget } from './attach.js';

let dir: string;
let daemon: Daemon;
let client: SandboxClient;
let target: AttachTarget;

before(async () => {
  dir = tempDir('skctl-attach-');
  daemon = await startDaemon({ dir });
  client = new SandboxClient({ baseUrl: daemon.url, apiKey: 'test-key' });
  await client.apply({ apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name: 'att' }, spec: { image: 'base' } });
  await client.waitFor('sessions', 'att', { condition: 'Ready', timeoutMs: 60_000 });
  target = { baseUrl: daemon.url, apiKey: 'test-key', namespace: 'default', name: 'att' };
});

after(async () => {
  try {
    await client.delete('sessions', 'att');
    await client.waitForDeletion('sessions', 'att', { timeoutMs: 30_000 });
  } finally {
    client.close();
    await daemon.stop();
    removeDir(dir);
  }
});

/** A whole output line (bash may put a bracketed-paste switch and a CR in front of it). */
const line = (text: string) => new RegExp(`[\\r\\n]${text}\\r?\\n`);

/** A terminal of streams: what was written so far, and a wait for a pattern in it. */
function streams() {
  const input = new PassThrough();
  const output = new PassThrough();
  let text = '';
  output.on('data', (c: Buffer) => (text += c.toString('utf8')));
  return {
    input,
    output,
    text: () => text,
    async waitFor(re: RegExp, ms = 15_000) {
      const deadline = Date.now() + ms;
      while (!re.test(text)) {
        if (Date.now() > deadline) throw new Error(`no ${re} within ${ms} ms in:\n${text}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

test('the URL: ws for http, wss for https, a base path kept, the size in the query', () => {
  assert.equal(attachUrl({ ...target, baseUrl: 'http://h:1' }, { cols: 80, rows: 24 }).href, 'ws://h:1/apis/sandkasten.dev/v1/namespaces/default/sessions/att/attach?cols=80&rows=24');
  assert.equal(attachUrl({ ...target, baseUrl: 'https://h/sk/', namespace: 'a b' }).href, 'wss://h/sk/apis/sandkasten.dev/v1/namespaces/a%20b/sessions/att/attach');
  assert.equal(attachUrl(target, { cols: 0, rows: 5000 }).search, '?cols=1&rows=1000', 'sizes clamped to what the server takes');
});

test('a shell: typed input runs, its output comes back, its exit code ends the terminal', async () => {
  const t = streams();
  const ws = await openAttach(target, { size: { cols: 80, rows: 24 } });
  const done = runTerminal(ws, { input: t.input, output: t.output });
  t.input.write('echo $((6*7))\r');
  await t.waitFor(line('42'));
  t.input.write('exit 3\r');
  assert.deepEqual(await done, { reason: 'exit', exitCode: 3, signal: null });
});

test('the window size at connect and after a resize; Ctrl-] detaches', async () => {
  const t = streams();
  const winch = new EventEmitter();
  let size = { cols: 123, rows: 45 };
  const ws = await openAttach(target, { size });
  const done = runTerminal(ws, { input: t.input, output: t.output, size: () => size, resizeSource: winch });
  t.input.write('stty size\r');
  await t.waitFor(line('45 123'));
  size = { cols: 100, rows: 30 };
  winch.emit('resize');
  t.input.write('stty size\r');
  await t.waitFor(line('30 100'));
  // The key in the middle of a chunk.
  t.input.write(Buffer.from('echo x\r\x1dmore'));
  assert.deepEqual(await done, { reason: 'detached' });
  assert.equal(ws.readyState, ws.CLOSED);
});

test('refusals carry the server\'s message and status code', async () => {
  await assert.rejects(openAttach({ ...target, name: 'nope' }), (e: AttachError) => {
    assert.ok(e instanceof AttachError);
    assert.equal(e.statusCode, 404);
    assert.match(e.message, /^Error from server \(NotFound\): .*nope/);
    return true;
  });
  await assert.rejects(openAttach({ ...target, apiKey: 'wrong' }), (e: AttachError) => e.statusCode === 401);
  const closed = "http://127.0.0.1:1";
  await assert.rejects(openAttach({ ...target, baseUrl: closed }), (e: AttachError) => e.statusCode === 0 && /ECONNREFUSED/.test(e.message));
});
