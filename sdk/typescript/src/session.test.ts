// The session surface against the real daemon binary with real sandboxes: createSession waits for
// Ready (and cleans up after a failure), exec and streamed exec in the persistent shell, files and
// directory trees both ways, stats, the terminal, destroy and `await using`.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { sandboxSkip } from '@sandkasten/controller/dist/controllers/session-testutil.js';
import { removeDir, startDaemon, tempDir, type Daemon } from '@sandkasten/controller/dist/bin/testutil.js';
import { ApiError, NotFoundError, SandboxClient, SandboxSession, SessionStartError, TimeoutError } from './index.js';

const KEY = 'test-key';

describe('sessions (daemon, real sandboxes)', { skip: sandboxSkip, timeout: 240_000 }, () => {
  let dir: string;
  let local: string;
  let daemon: Daemon;
  let c: SandboxClient;
  let box: SandboxSession;

  before(async () => {
    dir = tempDir('sk-sdk-session-');
    local = mkdtempSync(join(tmpdir(), 'sk-sdk-local-'));
    daemon = await startDaemon({ dir });
    c = new SandboxClient({ baseUrl: daemon.url, apiKey: KEY });
    box = await c.createSession({ name: 'box', ttlSeconds: 600 });
  });
  after(async () => {
    if (c) {
      for (const s of await c.listSessions().catch(() => [])) await s.destroy().catch(() => undefined);
      assert.deepEqual((await c.listSessions()).map((s) => s.name), [], 'every session was destroyed');
      c.close();
    }
    await daemon?.stop();
    if (dir) removeDir(dir);
    if (local) rmSync(local, { recursive: true, force: true });
  });

  test('createSession waits until Ready; a generated name; getSession, listSessions, info', async () => {
    assert.equal(box.object.status?.phase, 'Ready');
    assert.equal(box.name, 'box');
    await using s = await c.createSession({ env: { GREETING: 'hi there' }, labels: { team: 'a' } });
    assert.match(s.name, /^s-[a-z0-9]{5}$/);
    assert.equal(s.object.status?.conditions?.find((x) => x.type === 'Ready')?.status, 'True');
    assert.equal((await s.exec('echo "$GREETING"')).output, 'hi there\n');
    const again = await c.getSession(s.name);
    assert.equal(again.object.metadata.uid, s.object.metadata.uid);
    const listed = await c.listSessions({ labelSelector: { team: 'a' } });
    assert.deepEqual(listed.map((x) => x.name), [s.name]);
    assert.equal((await s.info()).metadata.labels?.team, 'a');
    await assert.rejects(c.getSession('nope'), NotFoundError);
  });

  test('exec: exit codes, output, the persistent shell (cd, export, functions)', async () => {
    let r = await box.exec("sh -c 'exit 3'");
    assert.equal(r.exitCode, 3);
    r = await box.exec('false');
    assert.equal(r.exitCode, 1);
    r = await box.exec('echo out; echo err >&2');
    assert.equal(r.exitCode, 0);
    assert.equal(r.output, 'out\nerr\n');
    assert.equal(typeof r.durationMs, 'number');
    assert.equal(r.truncated, false);
    assert.equal(r.timedOut, false);

    r = await box.exec('mkdir -p /tmp/deep/er && cd /tmp/deep && export ANSWER=42 && greet() { echo "hello $1"; }');
    assert.equal(r.cwd, '/tmp/deep');
    r = await box.exec('cd er; echo "$ANSWER $PWD"; greet you');
    assert.equal(r.output, '42 /tmp/deep/er\nhello you\n');
    assert.equal(r.cwd, '/tmp/deep/er');
    await box.exec('cd /workspace');
  });

  test('exec: a timeout interrupts the command, the shell survives; bad arguments are refused before any request', async () => {
    const r = await box.exec('export KEPT=yes; sleep 30', { timeoutMs: 500 });
    assert.equal(r.timedOut, true);
    assert.ok(r.exitCode === 130 || r.exitCode === 137, `exit ${r.exitCode}`);
    assert.ok(r.durationMs < 10_000);
    assert.equal((await box.exec('echo $KEPT')).output, 'yes\n');
    await assert.rejects(box.exec(''), /needs a command/);
    await assert.rejects(box.exec('true', { timeoutMs: -1 }), /timeoutMs must be a positive integer/);
  });

  test('execStream: chunks arrive while the command runs, then the result', async () => {
    const t0 = performance.now();
    const stream = box.execStream('echo first; sleep 1; echo second; exit_code() { return 4; }; exit_code');
    const chunks: { text: string; at: number }[] = [];
    for await (const chunk of stream) chunks.push({ text: chunk, at: performance.now() - t0 });
    const result = await stream.result;
    const total = performance.now() - t0;
    assert.equal(chunks.map((x) => x.text).join(''), 'first\nsecond\n');
    assert.ok(chunks[0]!.at < total - 700, `the first chunk came at ${chunks[0]!.at.toFixed(0)} ms of ${total.toFixed(0)} ms`);
    assert.equal(result.exitCode, 4);
    assert.equal(result.cwd, '/workspace');
    assert.equal('output' in result, false);

    // Bytes exactly as written (not valid UTF-8).
    const bin = box.execStream("printf 'a\\377\\000b'", { binary: true });
    const parts: Uint8Array[] = [];
    for await (const b of bin) parts.push(b);
    assert.deepEqual([...Buffer.concat(parts)], [0x61, 0xff, 0x00, 0x62]);
    assert.equal((await bin.result).exitCode, 0);

    // result alone drains the stream.
    assert.equal((await box.execStream('echo x; exit_code').result).exitCode, 4);
  });

  test('execStream: aborting interrupts the command; leaving the loop early too', async () => {
    const ac = new AbortController();
    const stream = box.execStream('echo started; sleep 30; echo never', { signal: ac.signal });
    const got: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) {
          got.push(chunk);
          ac.abort();
        }
      })(),
      (e: Error) => e.name === 'AbortError',
    );
    assert.deepEqual(got, ['started\n']);
    await assert.rejects(stream.result, (e: Error) => e.name === 'AbortError');
    // The shell is free again (the command was interrupted, not left running).
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = await box.exec('echo free').catch((e: unknown) => e);
      if (!(r instanceof ApiError && r.code === 409)) {
        assert.equal((r as { output: string }).output, 'free\n');
        break;
      }
      assert.ok(Date.now() < deadline, 'the interrupted command still holds the shell');
      await new Promise((r) => setTimeout(r, 100));
    }

    const s2 = box.execStream('echo one; sleep 30');
    for await (const _ of s2) break;
    await assert.rejects(s2.result, /closed before the command finished/);
  });

  test('write and read: a binary round trip, ranges, text, modes, streams; clear errors', async () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const data = Buffer.concat([all, randomBytes(1 << 20), all]);
    const w = await box.write('bin/data.bin', data);
    assert.deepEqual(w, { path: '/workspace/bin/data.bin', bytes: data.length });
    const back = await box.read('/workspace/bin/data.bin');
    assert.ok(Buffer.from(back).equals(data), 'the same bytes');
    assert.deepEqual([...(await box.read('bin/data.bin', { offset: 10, length: 5 }))], [10, 11, 12, 13, 14]);
    assert.equal((await box.read('bin/data.bin', { offset: data.length - 3 })).length, 3);
    assert.equal((await box.read('bin/data.bin', { offset: data.length + 10 })).length, 0, 'past the end: nothing');
    assert.equal((await box.read('bin/data.bin', { length: 0 })).length, 0);

    await box.writeText('notes/ü.txt', 'grüße\n');
    assert.equal(await box.readText('notes/ü.txt'), 'grüße\n');
    assert.equal((await box.exec('cat /workspace/notes/ü.txt')).output, 'grüße\n');

    await box.write('run.sh', '#!/bin/sh\necho ran\n', { mode: 0o750 });
    assert.equal((await box.stat('run.sh')).mode & 0o777, 0o750);
    assert.equal((await box.exec('./run.sh')).output, 'ran\n');
    await box.write('run.sh', 'echo more\n', { append: true });
    assert.equal(await box.readText('run.sh'), '#!/bin/sh\necho ran\necho more\n');
    await assert.rejects(box.write('run.sh', 'x', { exclusive: true }), (e: ApiError) => e.code === 409);

    // A stream: 8 MiB sent as it is generated.
    let sent = 0;
    async function* gen() {
      for (let i = 0; i < 128; i++) {
        const chunk = Buffer.alloc(64 << 10, i);
        sent += chunk.length;
        yield chunk;
      }
    }
    assert.equal((await box.write('big.bin', gen())).bytes, 8 << 20);
    assert.equal(sent, 8 << 20);
    assert.equal((await box.exec('wc -c < big.bin')).output.trim(), String(8 << 20));
    assert.equal((await box.write('r.bin', Readable.from([Buffer.from('ab'), Buffer.from('cd')]))).bytes, 4);

    const entries = await box.list('/workspace');
    assert.ok(entries.some((e) => e.name === 'bin' && e.type === 'dir'));
    await assert.rejects(box.read('missing.txt'), NotFoundError);
    await assert.rejects(box.read('bin'), /is a directory/);
    await assert.rejects(box.write('', 'x'), /path in the sandbox is required/);
    // A local stream that fails is that error, not a connection error, and nothing is retried.
    const broken = new Readable({ read() { this.destroy(new Error('disk on fire')); } });
    await assert.rejects(box.write('broken.bin', broken), /disk on fire/);
    await box.remove('bin', { recursive: true });
    await assert.rejects(box.stat('bin'), NotFoundError);
  });

  test('upload and download: a directory tree and single files, content identical', async () => {
    const src = join(local, 'tree');
    mkdirSync(join(src, 'a/b/c'), { recursive: true });
    mkdirSync(join(src, 'empty'));
    writeFileSync(join(src, 'top.txt'), 'top\n');
    writeFileSync(join(src, 'a/b/c/deep.bin'), randomBytes(300_000));
    writeFileSync(join(src, 'a/run.sh'), '#!/bin/sh\necho tree\n');
    chmodSync(join(src, 'a/run.sh'), 0o755);
    writeFileSync(join(src, `${'long-name-'.repeat(12)}.txt`), 'a name longer than 100 bytes\n');
    symlinkSync('top.txt', join(src, 'link'));

    const up = await box.upload(src, '/srv/tree');
    assert.equal(up.path, '/srv/tree');
    assert.equal(up.files, 4);
    assert.deepEqual(up.skipped.map((s) => s.path), ['link'], 'a symlink is skipped, and said so');
    assert.equal((await box.exec('/srv/tree/a/run.sh')).output, 'tree\n');
    const found = (await box.exec('cd /srv/tree && find . | LC_ALL=C sort')).output;
    assert.equal(found, ['.', './a', './a/b', './a/b/c', './a/b/c/deep.bin', './a/run.sh', './empty', `./${'long-name-'.repeat(12)}.txt`, './top.txt', ''].join('\n'));

    const dest = join(local, 'back');
    const down = await box.download('/srv/tree', dest);
    assert.equal(down.type, 'dir');
    assert.deepEqual(listTree(dest), listTree(src).filter((p) => p !== 'link'));
    for (const f of ['top.txt', 'a/b/c/deep.bin', 'a/run.sh', `${'long-name-'.repeat(12)}.txt`]) {
      assert.ok(readFileSync(join(dest, f)).equals(readFileSync(join(src, f))), f);
    }
    assert.equal(statSync(join(dest, 'a/run.sh')).mode & 0o777, 0o755);

    // A file: into a directory under its name, or to an exact path; a stream as a tar archive.
    const file = join(local, 'single.bin');
    writeFileSync(file, randomBytes(70_000));
    const one = await box.upload(file, 'incoming');
    assert.equal(one.path, '/workspace/incoming/single.bin');
    const got = await box.download('incoming/single.bin', local + '/copy.bin');
    assert.deepEqual(got, { path: join(local, 'copy.bin'), type: 'file', bytes: 70_000 });
    assert.ok(readFileSync(join(local, 'copy.bin')).equals(readFileSync(file)));
    mkdirSync(join(local, 'into'));
    assert.equal((await box.download('incoming/single.bin', join(local, 'into'))).path, join(local, 'into/single.bin'));
    assert.deepEqual(readdirSync(local).filter((n) => n.includes('.part-')), [], 'no partial files left');

    const tar = spawn('tar', ['-c', '-C', src, 'top.txt', 'a'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const fromStream = await box.upload(tar.stdout, '/srv/from-stream');
    assert.equal(fromStream.files, 3);
    assert.equal(await box.readText('/srv/from-stream/top.txt'), 'top\n');

    await assert.rejects(box.upload(join(local, 'nope'), 'x'), /ENOENT/);
    await assert.rejects(box.download('/nope', join(local, 'nope')), NotFoundError);
    await assert.rejects(box.download('/dev/null', join(local, 'null')), /it is a char, not a file or directory/);
  });

  test('stats: cpu, memory and pids of the cgroup', async () => {
    const s = await box.stats();
    assert.ok(Date.parse(s.timestamp) > 0);
    assert.ok(typeof s.cpu.usageNanoseconds === 'number' && s.cpu.usageNanoseconds > 0);
    assert.equal(s.cpu.limitCores, 1);
    assert.ok(typeof s.memory.usageBytes === 'number' && s.memory.usageBytes > 0);
    assert.equal(s.memory.limitBytes, 512 * 1024 * 1024);
    assert.ok(typeof s.pids.current === 'number' && s.pids.current >= 1);
    assert.equal(s.pids.limit, 256);
  });

  test('attach: an interactive shell on a PTY; resize; exit ends it with the code', async () => {
    const term = await box.attach({ size: { cols: 100, rows: 30 } });
    let out = '';
    term.on('data', (b: Buffer) => (out += b.toString('utf8')));
    const waitOut = async (re: RegExp) => {
      const deadline = Date.now() + 10_000;
      while (!re.test(out)) {
        assert.ok(Date.now() < deadline, `no ${re} in ${JSON.stringify(out)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    term.write('stty size\r');
    await waitOut(/30 100/);
    term.resize(120, 40);
    term.write('echo $((6*7)); stty size\r');
    await waitOut(/\r42\r\n40 120\r\n/);
    term.write('exit 5\r');
    assert.deepEqual(await term.ended, { reason: 'exit', exitCode: 5, signal: null });
    await assert.rejects(c.getSession('nope').then((s) => s.attach()), NotFoundError);
    const ghost = new SandboxSession(c, { apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name: 'ghost' } });
    await assert.rejects(ghost.attach(), NotFoundError);
  });

  test('destroy removes the session and waits until it is gone; again is a no-op', async () => {
    const s = await c.createSession();
    await s.destroy();
    await assert.rejects(c.get('sessions', s.name), NotFoundError);
    await s.destroy();
  });

  test('await using destroys the session when its block ends, also when the block throws', async () => {
    let name = '';
    {
      await using s = await c.createSession();
      name = s.name;
      assert.equal((await s.exec('echo inside')).output, 'inside\n');
    }
    await assert.rejects(c.get('sessions', name), NotFoundError);

    await assert.rejects(
      (async () => {
        await using s = await c.createSession();
        name = s.name;
        throw new Error('boom');
      })(),
      /boom/,
    );
    await assert.rejects(c.get('sessions', name), NotFoundError);
  });

  test('createSession with a missing image fails with the controller\'s message and leaves nothing', async () => {
    const before = (await c.listSessions()).map((s) => s.name);
    const e = await c.createSession({ image: 'no-such-image', name: 'bad-image' }).catch((x: unknown) => x);
    assert.ok(e instanceof SessionStartError, String(e));
    assert.equal(e.reason, 'ImageNotFound');
    assert.match(e.message, /^session bad-image: image "no-such-image" is not on this host/);
    await assert.rejects(c.get('sessions', 'bad-image'), NotFoundError);
    assert.deepEqual((await c.listSessions()).map((s) => s.name), before);
    // A deadline that runs out: TimeoutError, and the session is removed too.
    const t = await c.createSession({ name: 'too-slow', timeoutMs: 1 }).catch((x: unknown) => x);
    assert.ok(t instanceof TimeoutError, String(t));
    await assert.rejects(c.get('sessions', 'too-slow'), NotFoundError);
  });

  test('workspaces: createSession creates a named one that outlives the session; list and delete', async () => {
    {
      await using s = await c.createSession({ workspace: 'keep' });
      await s.writeText('kept.txt', 'still here\n');
    }
    assert.deepEqual((await c.listWorkspaces()).map((w) => w.metadata.name), ['keep']);
    {
      await using s = await c.createSession({ workspace: 'keep' });
      assert.equal(await s.readText('kept.txt'), 'still here\n');
    }
    await c.deleteWorkspace('keep');
    assert.deepEqual(await c.listWorkspaces(), []);
    await c.deleteWorkspace('keep');
  });

  test('the README example runs as written', async () => {
    const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
    const example = readFileSync(fileURLToPath(new URL('../src/examples/readme.ts', import.meta.url)), 'utf8');
    const block = /<!-- example: src\/examples\/readme\.ts -->\n```ts\n([^]*?)```/.exec(readme);
    assert.ok(block, 'the README marks its example');
    assert.equal(block[1], example, 'the README shows src/examples/readme.ts exactly');
    const before = (await c.listSessions()).map((s) => s.name);
    const r = await runNode(fileURLToPath(new URL('./examples/readme.js', import.meta.url)), { SANDKASTEN_SERVER: daemon.url, SANDKASTEN_API_KEY: KEY });
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, 'Hello from sandbox!\n\n');
    assert.equal(r.code, 0);
    assert.deepEqual((await c.listSessions()).map((s) => s.name), before, 'await using destroyed its session');
  });
});

function listTree(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, rel)).sort()) {
    const p = rel ? `${rel}/${name}` : name;
    out.push(p);
    const st = statSync(join(root, p), { throwIfNoEntry: false });
    if (st?.isDirectory()) out.push(...listTree(root, p));
  }
  return out;
}

function runNode(file: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
