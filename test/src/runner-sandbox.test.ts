// The runner as PID 1 of a real node-agent sandbox: bind-mounted read-only from the host (the
// image does not contain it), serving its socket in a host directory bind-mounted at
// /run/sandkasten, with the sandbox's own root for file operations.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RunnerClient, RunnerError } from '@sandkasten/controller/dist/runner/index.js';
import {
  buildNodeAgent, cleanupStateRoot, containerState, isRoot, makeBundle, nodeAgent, nodeAgentOk, repoRoot, uniqueId, waitFor,
  type Bundle,
} from './lib/bundle.js';

const runnerBin = join(repoRoot, 'runner/build/runner');

function buildRunner(): void {
  const r = spawnSync('flock', ['/tmp/sandkasten-runner-make.lock', 'make', '-s', '-C', 'runner'], { cwd: repoRoot, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`make -C runner failed:\n${r.stdout}${r.stderr}`);
}

interface Sandbox {
  id: string;
  bundle: Bundle;
  runDir: string;
  client: RunnerClient;
  /** The runner's pid on the host. */
  pid: number;
  destroy(): void;
}

async function startSandbox(): Promise<Sandbox> {
  const runDir = mkdtempSync(join(tmpdir(), 'sk-run-'));
  const bundle = makeBundle({
    overlay: true,
    args: ['/.sandkasten/runner'],
    cwd: '/workspace',
    extraMounts: [
      { destination: '/.sandkasten/runner', type: 'bind', source: runnerBin, options: ['bind', 'ro'] },
      { destination: '/run/sandkasten', type: 'bind', source: runDir, options: ['bind', 'rw'] },
    ],
  });
  const id = uniqueId('runner');
  nodeAgentOk(['run', '--detach', '--bundle', bundle.dir, id]);
  const socket = join(runDir, 'runner.sock');
  await waitFor(() => existsSync(socket), 10_000, 'the runner socket');
  const client = new RunnerClient(socket);
  return {
    id,
    bundle,
    runDir,
    client,
    pid: containerState(id).pid,
    destroy() {
      client.close();
      nodeAgent(['delete', '--force', id]);
      bundle.cleanup();
      rmSync(runDir, { recursive: true, force: true });
    },
  };
}

describe('runner inside a node-agent sandbox', { skip: !isRoot && 'needs root', timeout: 180_000 }, () => {
  let sb: Sandbox;
  let c: RunnerClient;
  before(async () => {
    buildNodeAgent();
    buildRunner();
    sb = await startSandbox();
    c = sb.client;
  });
  after(() => {
    sb?.destroy();
    cleanupStateRoot();
  });

  test('PID 1 of the sandbox, with the image\'s bash as its persistent shell', async () => {
    const info = await c.info();
    assert.equal(info.pid, 1);
    assert.equal(info.pid1, true);
    assert.equal(info.shell, '/bin/bash');
    assert.equal(info.fsRoot, '/');
    const res = await c.exec('echo "$(id -u) $(cat /etc/hostname) $PWD"; readlink /proc/1/exe');
    assert.equal(res.output.toString(), '0 sandbox /workspace\n/.sandkasten/runner\n');
    // the binary is the host's, read-only
    const w = await c.exec('echo x > /.sandkasten/runner');
    assert.notEqual(w.exitCode, 0);
  });

  test('shell state persists; timeouts and restarts work inside', async () => {
    await c.exec('cd /tmp && export KEEP=1 && f() { echo fn; }');
    assert.equal((await c.exec('echo $KEEP; f; pwd')).output.toString(), '1\nfn\n/tmp\n');
    const t = await c.exec('sleep 30', { timeoutMs: 200 });
    assert.equal(t.timedOut, true);
    assert.equal(t.exitCode, 130);
    assert.equal((await c.exec('echo $KEEP')).output.toString(), '1\n');
    assert.equal((await c.exec('exit')).shellExited, true);
    const next = await c.exec('echo "[$KEEP]"');
    assert.equal(next.shellRestarted, true);
    assert.equal(next.output.toString(), '[]\n');
  });

  test('zombies are reaped by the runner as PID 1', async () => {
    await c.exec('for i in 1 2 3 4 5; do (sleep 0.1 &); done; sh -c "sleep 0.1 & exit"; sleep 0.4');
    const stat = await c.run(['/bin/sh', '-c', 'cat /proc/[0-9]*/stat']);
    const states = stat.stdout.toString().split('\n').filter(Boolean).map((l) => l.slice(l.lastIndexOf(')') + 2, l.lastIndexOf(')') + 3));
    assert.ok(states.length >= 2);
    assert.deepEqual(states.filter((s) => s === 'Z'), []);
  });

  test('a symlink to a host path resolves to the sandbox\'s file', async () => {
    const hostHostname = readFileSync('/etc/hostname', 'utf8');
    assert.notEqual(hostHostname, 'sandbox\n');
    // what a process in the sandbox may plant for the controller to follow
    await c.exec('ln -s /etc/hostname /workspace/host-link && ln -s / /workspace/root-link && ln -s ../../../../../.. /workspace/dots-link');
    // and one made on the host side, in the sandbox's writable layer
    symlinkSync(join(sb.bundle.rootfs, 'etc/hostname'), join(sb.bundle.upperdir!, 'workspace/abs-host-path'));
    await assert.rejects(c.readFileBuffer('/workspace/abs-host-path'), (e: unknown) => e instanceof RunnerError && e.code === 'ENOENT');
    assert.equal((await c.readFileBuffer('/workspace/host-link')).toString(), 'sandbox\n');
    assert.equal((await c.readFileBuffer('/workspace/root-link/etc/hostname')).toString(), 'sandbox\n');
    assert.equal((await c.readFileBuffer('/workspace/dots-link/etc/hostname')).toString(), 'sandbox\n');
    assert.equal((await c.readFileBuffer('/workspace/../../../etc/hostname')).toString(), 'sandbox\n');
    // a write through such a link lands in the sandbox
    await c.writeFile('/workspace/root-link/tmp/through-link', 'inside');
    assert.equal((await c.exec('cat /tmp/through-link')).output.toString(), 'inside');
  });

  test('/proc magic links are refused', async () => {
    for (const p of ['/proc/self/root/etc/hostname', '/proc/1/root/etc/hostname', '/proc/1/cwd', '/proc/self/fd/0']) {
      await assert.rejects(c.readFileBuffer(p), (e: unknown) => e instanceof RunnerError && e.code === 'ELOOP', p);
    }
    // plain /proc files are fine
    assert.match((await c.readFileBuffer('/proc/1/cmdline')).toString(), /^\/\.sandkasten\/runner/);
  });

  test('files written through the runner land in the sandbox\'s writable layer', async () => {
    await c.writeFile('/workspace/new/file.txt', 'hello', { mkdirParents: true, mode: 0o640 });
    assert.equal(readFileSync(join(sb.bundle.upperdir!, 'workspace/new/file.txt'), 'utf8'), 'hello');
    assert.equal((await c.exec('stat -c %a /workspace/new/file.txt')).output.toString(), '640\n');
    writeFileSync(join(sb.bundle.upperdir!, 'workspace/from-host'), 'visible');
    assert.ok((await c.list('/workspace')).some((e) => e.name === 'from-host'));
  });

  test('50 MiB streamed in and out; the runner stays small', async () => {
    const SIZE = 50 * 1024 * 1024;
    const chunk = randomBytes(1 << 20);
    const up = createHash('sha256');
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < SIZE / chunk.length; i++) {
        const b = Buffer.from(chunk);
        b.writeUInt32LE(i, 0);
        up.update(b);
        yield b;
      }
    }
    assert.deepEqual(await c.writeFile('/tmp/big', source()), { bytes: SIZE });
    const inside = await c.exec('sha256sum /tmp/big');
    const digest = up.digest('hex');
    assert.equal(inside.output.toString().split(' ')[0], digest);
    const down = createHash('sha256');
    for await (const b of c.readFile('/tmp/big')) down.update(b as Buffer);
    assert.equal(down.digest('hex'), digest);
    const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${sb.pid}/status`, 'utf8'))![1]) * 1024;
    assert.ok(hwm < 16 * 1024 * 1024, `runner peak RSS ${(hwm / 1048576).toFixed(1)} MiB`);
    await c.remove('/tmp/big');
  });

  test('exec round trip stays sub-millisecond in a sandbox', async () => {
    for (let i = 0; i < 100; i++) await c.exec('true');
    const xs: number[] = [];
    for (let i = 0; i < 500; i++) {
      const t0 = process.hrtime.bigint();
      await c.exec('true');
      xs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const median = xs.sort((a, b) => a - b)[xs.length >> 1]!;
    assert.ok(median < 1, `median ${median.toFixed(3)} ms`);
  });

  test('node-agent kill SIGTERM: the runner stops its processes and exits 0', async () => {
    const own = await startSandbox();
    try {
      await own.client.exec('sleep 100 & (trap "" TERM HUP; sleep 100) & sleep 0.1');
      const t0 = Date.now();
      nodeAgentOk(['kill', own.id, 'TERM']);
      await waitFor(() => containerState(own.id).status === 'stopped', 10_000, 'the sandbox to stop');
      // One job ignores SIGTERM and the shell's SIGHUP: it takes the stop grace (2 s), then SIGKILL.
      const took = Date.now() - t0;
      assert.ok(took > 1500 && took < 6000, `stopped after ${took} ms`);
      assert.equal(existsSync(join(own.runDir, 'runner.sock')), false);
    } finally {
      own.destroy();
    }
  });
});
