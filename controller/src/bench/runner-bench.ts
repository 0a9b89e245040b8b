// `node controller/dist/bench/runner-bench.js` (as root): figures for the runner.
//   1. start → ready: spawn of the static binary until its socket serves (--ready-fd), and until
//      the login shell has answered its first exec;
//   2. round trips through the socket: exec of `true` in the persistent shell (the headline),
//      info (protocol only), fs stat, run of /bin/true (fork + exec per call);
//   3. throughput: exec output through the PTY, file write and read streams.
// The runner runs as PID 1 of fresh namespaces, as in a sandbox (minus the sandbox's own setup).

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunnerClient } from '../runner/index.js';
import { runnerBin, startRunner } from '../runner/testing.js';

const N = Number(process.env.BENCH_EXECS ?? 3_000);

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
const fmt = (x: number): string => (x < 10 ? x.toFixed(3) : x.toFixed(1));

function line(name: string, xs: number[]): void {
  console.log(`  ${name.padEnd(34)} median ${fmt(pct(xs, 50)).padStart(7)} ms   p99 ${fmt(pct(xs, 99)).padStart(7)} ms   (n=${xs.length})`);
}

async function startOnce(): Promise<{ ready: number; shell: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'sk-bench-'));
  const sock = join(dir, 'r.sock');
  const t0 = process.hrtime.bigint();
  // A HOME without dotfiles: the host's ~/.profile is not what a sandbox's shell reads.
  const env = { ...process.env, HOME: dir };
  const child = spawn(runnerBin, ['--socket', sock, '--ready-fd', '3'], { stdio: ['ignore', 'ignore', 'ignore', 'pipe'], cwd: dir, env });
  await new Promise<void>((resolve, reject) => {
    (child.stdio[3] as NodeJS.ReadableStream).once('data', () => resolve());
    child.once('exit', (c) => reject(new Error(`runner exited ${c}`)));
  });
  const ready = ms(t0);
  const client = new RunnerClient(sock);
  await client.exec('true');
  const shell = ms(t0);
  await client.shutdown();
  await new Promise((r) => child.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
  return { ready, shell };
}

async function timeEach(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    xs.push(ms(t0));
  }
  return xs;
}

async function main(): Promise<void> {
  console.log('runner: start → ready');
  const starts: { ready: number; shell: number }[] = [];
  for (let i = 0; i < 30; i++) starts.push(await startOnce());
  line('spawn → socket serving', starts.map((s) => s.ready));
  line('spawn → first exec answered', starts.map((s) => s.shell));

  const r = await startRunner({ env: { ...process.env, HOME: '/nonexistent' } });
  const c = r.client;
  try {
    const shell = (await c.info()).shell;
    console.log(`runner: round trips over the unix socket (shell ${shell}, sequential, one pooled connection)`);
    await timeEach(300, () => c.exec('true'));
    line('exec `true`', await timeEach(N, () => c.exec('true')));
    line('exec `echo hello`', await timeEach(1000, () => c.exec('echo hello')));
    line('exec `cd /tmp && pwd`', await timeEach(1000, () => c.exec('cd /tmp && pwd')));
    line('info', await timeEach(N, () => c.info()));
    await c.writeFile('/f', 'x');
    line('fs stat', await timeEach(N, () => c.stat('/f')));
    line('fs read 4 KiB', (await c.writeFile('/f4k', randomBytes(4096)), await timeEach(1000, () => c.readFileBuffer('/f4k'))));
    line('run /bin/true (fork+exec)', await timeEach(500, () => c.run(['/bin/true'])));

    console.log('runner: throughput');
    const out = 64 << 20;
    let t0 = process.hrtime.bigint();
    const res = await c.exec(`head -c ${out} /dev/zero`);
    console.log(`  exec output through the PTY       ${((res.outputBytes / 1048576) / (ms(t0) / 1000)).toFixed(0)} MiB/s (${res.output.length >> 20} MiB delivered, the rest past the cap)`);
    const capped = await startRunner({ outputCap: 1 << 30, env: { ...process.env, HOME: '/nonexistent' } });
    t0 = process.hrtime.bigint();
    const all = await capped.client.exec(`head -c ${out} /dev/zero`);
    console.log(`  exec output delivered to the client ${((all.output.length / 1048576) / (ms(t0) / 1000)).toFixed(0)} MiB/s (cap raised to 1 GiB)`);
    await capped.stop();
    const SIZE = 256 << 20;
    const chunk = randomBytes(1 << 20);
    t0 = process.hrtime.bigint();
    await c.writeFile('/big', (function* () {
      for (let i = 0; i < SIZE / chunk.length; i++) yield chunk;
    })());
    console.log(`  fs write stream                   ${(256 / (ms(t0) / 1000)).toFixed(0)} MiB/s`);
    t0 = process.hrtime.bigint();
    let n = 0;
    for await (const b of c.readFile('/big')) n += (b as Buffer).length;
    console.log(`  fs read stream                    ${((n / 1048576) / (ms(t0) / 1000)).toFixed(0)} MiB/s`);
    await c.remove('/big');
  } finally {
    await r.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
