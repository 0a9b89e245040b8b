// One-shot processes (run): outside the shell, stdout and stderr apart, stdin uploads.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { RunnerError, type RunnerClient } from './index.js';
import { startRunner, type StandaloneRunner } from './testing.js';

describe('run', { timeout: 60_000 }, () => {
  let r: StandaloneRunner;
  let c: RunnerClient;
  before(async () => {
    r = await startRunner({ killGraceMs: 200 });
    c = r.client;
  });
  after(async () => {
    await r.stop();
  });

  test('stdout, stderr and the exit code, apart', async () => {
    const res = await c.run(['/bin/sh', '-c', 'echo out; echo err >&2; printf "\\377"; exit 3']);
    assert.deepEqual(res.stdout, Buffer.from('out\n\xff', 'latin1'));
    assert.equal(res.stderr.toString(), 'err\n');
    assert.equal(res.exitCode, 3);
    assert.equal(res.signal, null);
    assert.ok(res.pid > 1);
  });

  test('argv is not parsed by a shell; PATH lookup; env and cwd', async () => {
    const res = await c.run(['printf', '%s|', 'a b', '$HOME', '; rm -rf /'], {});
    assert.equal(res.stdout.toString(), 'a b|$HOME|; rm -rf /|');
    const env = await c.run(['sh', '-c', 'echo "$GREETING:$PATH"; pwd'], { env: { GREETING: 'hi' }, cwd: '/tmp' });
    assert.match(env.stdout.toString(), /^hi:\/.*bin.*\n\/tmp\n$/);
    await assert.rejects(c.run(['no-such-program-sk']), (e: unknown) => e instanceof RunnerError && e.code === 'ENOENT' && /exec `no-such-program-sk`/.test(e.message));
    await assert.rejects(c.run(['true'], { cwd: '/no/such/dir' }), (e: unknown) => e instanceof RunnerError && e.code === 'ENOENT' && /chdir/.test(e.message));
    await assert.rejects(c.run([]), (e: unknown) => e instanceof RunnerError && e.code === 'BAD_REQUEST');
  });

  test('it does not go through the persistent shell', async () => {
    await c.exec('export ONLY_IN_SHELL=1; cd /tmp');
    const res = await c.run(['sh', '-c', 'echo "[$ONLY_IN_SHELL]"; pwd']);
    assert.equal(res.stdout.toString(), `[]\n${r.dir}\n`);
    // and it runs while an exec does
    const slow = c.exec('sleep 0.3; echo exec-done');
    const quick = await c.run(['echo', 'concurrent']);
    assert.equal(quick.stdout.toString(), 'concurrent\n');
    assert.equal((await slow).output.toString(), 'exec-done\n');
  });

  test('stdin: bytes, and a large stream with backpressure', async () => {
    const res = await c.run(['cat'], { stdin: 'hello\n' });
    assert.equal(res.stdout.toString(), 'hello\n');
    const data = randomBytes(8 << 20);
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for (let off = 0; off < data.length; off += 100_000) yield data.subarray(off, off + 100_000);
    }
    const sum = await c.run(['sha256sum'], { stdin: chunks() });
    assert.equal(sum.stdout.toString().split(' ')[0], createHash('sha256').update(data).digest('hex'));
    // without stdin the process reads /dev/null
    assert.equal((await c.run(['cat'])).stdout.length, 0);
  });

  test('a process that exits before reading all of stdin', async () => {
    async function* endless(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 1000; i++) yield Buffer.alloc(64 << 10, 1);
    }
    const res = await c.run(['head', '-c', '10'], { stdin: endless() });
    assert.equal(res.stdout.length, 10);
    assert.equal(res.exitCode, 0);
    assert.equal((await c.run(['echo', 'next'])).stdout.toString(), 'next\n');
  });

  test('timeout: SIGTERM to the process group, then SIGKILL', async () => {
    const t0 = Date.now();
    const res = await c.run(['sh', '-c', 'sleep 30 & wait'], { timeoutMs: 200 });
    assert.equal(res.timedOut, true);
    assert.equal(res.signal, 'SIGTERM');
    assert.equal(res.exitCode, 143);
    const stubborn = await c.run(['sh', '-c', 'trap "" TERM; while :; do sleep 0.05; done'], { timeoutMs: 100 });
    assert.equal(stubborn.signal, 'SIGKILL');
    assert.ok(Date.now() - t0 < 2000);
  });

  test('streaming callbacks and cancel', async () => {
    const seen: string[] = [];
    const ac = new AbortController();
    const res = await c.run(['sh', '-c', 'echo started; sleep 30'], {
      onStdout: (b) => {
        seen.push(b.toString());
        ac.abort();
      },
      signal: ac.signal,
    });
    assert.deepEqual(seen, ['started\n']);
    assert.equal(res.cancelled, true);
    assert.equal(res.signal, 'SIGTERM');
  });

  test('a background child keeping the pipes open does not hold the result', async () => {
    const t0 = Date.now();
    const res = await c.run(['sh', '-c', 'sleep 5 & echo parent-done']);
    assert.equal(res.stdout.toString(), 'parent-done\n');
    assert.ok(Date.now() - t0 < 2000);
  });

  test('output cap applies to stdout and stderr together', async () => {
    const capped = await startRunner({ outputCap: 1000 });
    try {
      const res = await capped.client.run(['sh', '-c', 'head -c 800 /dev/zero; head -c 800 /dev/zero >&2']);
      assert.equal(res.stdout.length + res.stderr.length, 1000);
      assert.equal(res.truncated, true);
      assert.equal(res.outputBytes, 1600);
    } finally {
      await capped.stop();
    }
  });
});
