// POST …/exec over HTTP against a real runner: JSON results, streams that really stream, timeouts,
// busy shells, bad requests, sessions that are missing or not Ready, activity writes.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isRoot, json, startHarness, type Harness } from './testutil.js';

const post = (h: Harness, name: string, body: unknown, init: { query?: Record<string, string>; headers?: Record<string, string>; signal?: AbortSignal } = {}) =>
  h.fetch(h.sub(name, 'exec', init.query), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...init.headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: init.signal,
  });

/** Reads a JSON-lines response, noting when each line arrived (ms after `t0`). */
async function readLines(r: Response, t0: number): Promise<{ at: number; line: Record<string, unknown> }[]> {
  const out: { at: number; line: Record<string, unknown> }[] = [];
  const dec = new TextDecoder();
  let buf = '';
  for await (const c of r.body as unknown as AsyncIterable<Uint8Array>) {
    buf += dec.decode(c, { stream: true });
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      out.push({ at: performance.now() - t0, line: JSON.parse(buf.slice(0, i)) as Record<string, unknown> });
      buf = buf.slice(i + 1);
    }
  }
  assert.equal(buf, '', 'every line ends with a newline');
  return out;
}

describe('exec subresource', { skip: !isRoot && 'needs root (the runner runs in its own namespaces)', timeout: 60_000 }, () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ config: { defaults: { max_exec_timeout_ms: 5000 } } });
    await h.session('s1');
  });
  after(() => h?.close());

  test('JSON result; cd and export persist between calls', async () => {
    let r = await post(h, 's1', { command: 'cd /tmp && export GREETING=hello; echo "$GREETING world"; false' });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    const b = await json(r);
    assert.equal(b.output, 'hello world\n');
    assert.equal(b.exitCode, 1);
    assert.equal(b.cwd, '/tmp');
    assert.equal(b.truncated, false);
    assert.equal(b.timedOut, false);
    assert.equal(typeof b.durationMs, 'number');
    assert.equal(b.shellRestarted, false);
    r = await post(h, 's1', { command: 'echo "$GREETING from $PWD"' });
    assert.deepEqual([(await json(r)).output], ['hello from /tmp\n']);
  });

  test('invalid UTF-8 is replaced in output and exact in outputBase64', async () => {
    const r = await post(h, 's1', { command: "printf 'a\\377b\\303\\251'" }, { query: { encoding: 'base64' } });
    const b = await json(r);
    assert.equal(b.output, 'a\uFFFDbé');
    assert.deepEqual(Buffer.from(b.outputBase64, 'base64'), Buffer.from([0x61, 0xff, 0x62, 0xc3, 0xa9]));
    const plain = await json(await post(h, 's1', { command: "printf 'x\\377'" }));
    assert.equal(plain.outputBase64, undefined);
  });

  test('stream: output lines arrive while the command runs, then the result', async () => {
    const t0 = performance.now();
    const r = await post(h, 's1', { command: 'echo a; sleep 0.5; echo b' }, { headers: { accept: 'application/x-ndjson' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/x-ndjson');
    const lines = await readLines(r, t0);
    const outputs = lines.filter((l) => l.line.type === 'output');
    assert.equal(outputs.map((l) => l.line.data).join(''), 'a\nb\n');
    assert.ok(outputs[0]!.at < 300, `first chunk after ${outputs[0]!.at.toFixed(0)} ms (want < 300)`);
    const last = lines[lines.length - 1]!;
    assert.equal(last.line.type, 'result');
    assert.equal(last.line.exitCode, 0);
    assert.ok(last.at >= 500, `result after ${last.at.toFixed(0)} ms`);
    assert.equal(last.line.output, undefined, 'the result line carries no output');
  });

  test('stream with ?stream=1 and base64; a UTF-8 character split across chunks stays whole', async () => {
    let r = await post(h, 's1', { command: "printf '\\303'; sleep 0.2; printf '\\251\\n'" }, { query: { stream: '1' } });
    let lines = await readLines(r, performance.now());
    assert.equal(lines.filter((l) => l.line.type === 'output').map((l) => l.line.data).join(''), 'é\n');
    r = await post(h, 's1', { command: "printf '\\377\\000'" }, { query: { stream: 'true', encoding: 'base64' } });
    lines = await readLines(r, performance.now());
    const bytes = Buffer.concat(lines.filter((l) => l.line.type === 'output').map((l) => Buffer.from(l.line.data as string, 'base64')));
    assert.deepEqual(bytes, Buffer.from([0xff, 0x00]));
  });

  test('timeout: timedOut, the command is interrupted, the shell and its state survive', async () => {
    await post(h, 's1', { command: 'export KEEP=yes' });
    const b = await json(await post(h, 's1', { command: 'sleep 30', timeoutMs: 300 }));
    assert.equal(b.timedOut, true);
    assert.ok(b.exitCode === 130 || b.exitCode === 137, `exit ${b.exitCode}`);
    assert.ok(b.durationMs < 5000);
    const next = await json(await post(h, 's1', { command: 'echo $KEEP' }));
    assert.equal(next.output, 'yes\n');
    assert.equal(next.shellRestarted, false);
  });

  test('timeoutMs above the maximum is capped, with a warning', async () => {
    const r = await post(h, 's1', { command: 'true', timeoutMs: 10_000_000 });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('warning') ?? '', /^299 - "timeoutMs 10000000 is above the maximum 5000; using 5000"$/);
  });

  test('a second exec while one runs: 409 with the runner\'s reason, JSON and stream alike', async () => {
    const first = post(h, 's1', { command: 'sleep 0.8; echo done' });
    await new Promise((r) => setTimeout(r, 150));
    const busy = await post(h, 's1', { command: 'echo hi' });
    assert.equal(busy.status, 409);
    const st = await json(busy);
    assert.equal(st.kind, 'Status');
    assert.equal(st.reason, 'Conflict');
    assert.match(st.message, /another exec is running/);
    const busyStream = await post(h, 's1', { command: 'echo hi' }, { query: { stream: '1' } });
    assert.equal(busyStream.status, 409);
    assert.equal((await json(busyStream)).reason, 'Conflict');
    assert.equal((await json(await first)).output, 'done\n');
  });

  test('a caller that goes away interrupts its command', async () => {
    // The standalone runner's shell sees the host's files: the marker is a host path.
    const marker = join(h.runner.fsRoot, 'marker');
    for (const stream of [false, true]) {
      const ac = new AbortController();
      const r = post(h, 's1', { command: `sleep 2; touch ${marker}` }, { query: stream ? { stream: '1' } : {}, signal: ac.signal });
      await new Promise((res) => setTimeout(res, 200));
      ac.abort();
      await assert.rejects(r.then((x) => x.text()));
      // The runner interrupts it: the shell is free again well before the 2 s sleep would end.
      const t0 = performance.now();
      let b;
      for (;;) {
        const res = await post(h, 's1', { command: 'echo free' });
        if (res.status !== 409) {
          b = await json(res);
          break;
        }
        await res.text();
        await new Promise((res2) => setTimeout(res2, 50));
      }
      assert.equal(b.output, 'free\n');
      assert.ok(performance.now() - t0 < 1500, `shell free after ${(performance.now() - t0).toFixed(0)} ms`);
    }
    await new Promise((res) => setTimeout(res, 2200));
    assert.equal(existsSync(marker), false, 'the interrupted command did not go on');
  });

  test('bad requests get a 400 Status naming the problem', async () => {
    const cases: [unknown, RegExp][] = [
      ['{"command": "echo', /malformed request body/],
      ['[1,2]', /must be a JSON object/],
      [{}, /command: command must be a non-empty string/],
      [{ command: 'x', timeoutMs: -1 }, /timeoutMs must be a positive integer/],
      [{ command: 'x', timeoutMs: 1.5 }, /timeoutMs must be a positive integer/],
      [{ command: 'x', cmd: 'y' }, /unknown field "cmd"/],
      [{ command: 'a\0b' }, /NUL/],
    ];
    for (const [body, msg] of cases) {
      const r = await post(h, 's1', body);
      const st = await json(r);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(st.kind, 'Status');
      assert.equal(st.reason, 'BadRequest');
      assert.match(st.message, msg);
    }
    const empty = await h.fetch(h.sub('s1', 'exec'), { method: 'POST' });
    assert.equal(empty.status, 400);
    // The body is JSON whatever the Content-Type (fetch sends strings as text/plain, curl -d as a form).
    const text = await h.fetch(h.sub('s1', 'exec'), { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'echo' });
    assert.equal(text.status, 400);
    assert.match((await json(text)).message, /malformed request body/);
    const form = await h.fetch(h.sub('s1', 'exec'), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '{"command":"echo form"}' });
    assert.equal((await json(form)).output, 'form\n');
    const get = await h.fetch(h.sub('s1', 'exec'));
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
    const enc = await post(h, 's1', { command: 'true' }, { query: { encoding: 'latin1' } });
    assert.equal(enc.status, 400);
  });

  test('unknown session 404, a session not Ready 409, no token 401', async () => {
    let r = await post(h, 'nope', { command: 'true' });
    let st = await json(r);
    assert.equal(r.status, 404);
    assert.equal(st.reason, 'NotFound');
    assert.equal(st.message, 'sessions.sandkasten.dev "nope" not found');
    await h.session('starting', { phase: 'Starting' });
    r = await post(h, 'starting', { command: 'true' });
    st = await json(r);
    assert.equal(r.status, 409);
    assert.equal(st.reason, 'Conflict');
    assert.equal(st.message, 'session starting is Starting; wait for condition Ready');
    await h.session('failed', { phase: 'Failed', reason: 'OOMKilled', message: 'the runner was killed by the OOM killer' });
    st = await json(await post(h, 'failed', { command: 'true' }));
    assert.equal(st.message, 'session failed is Failed: the runner was killed by the OOM killer');
    r = await fetch(h.sub('s1', 'exec'), { method: 'POST', body: '{"command":"true"}' });
    assert.equal(r.status, 401);
    assert.equal((await json(r)).reason, 'Unauthorized');
  });

  test('calls record status.lastActivityTime, at most one write per session per second', async () => {
    await h.session('act');
    const rv0 = Number((await h.client.get('sessions', 'default', 'act')).metadata.resourceVersion);
    for (let i = 0; i < 5; i++) await json(await post(h, 'act', { command: 'true' }));
    await new Promise((r) => setImmediate(r));
    const s = await h.client.get('sessions', 'default', 'act');
    assert.ok(s.status?.lastActivityTime, 'lastActivityTime set');
    assert.ok(Math.abs(Date.parse(s.status.lastActivityTime) - Date.now()) < 2000);
    assert.equal(s.status.phase, 'Ready', 'the rest of status kept');
    const writes = Number(s.metadata.resourceVersion) - rv0;
    assert.ok(writes >= 1 && writes <= 2, `${writes} writes for 5 calls`);
  });
});
