// `npm run bench:sandbox` (as root): node-agent and the runner side by side with their peers,
// in one run, on the same busybox rootfs and the same hardened bundle.
//   1. create+start+delete and `run` of /bin/true: node-agent vs crun (paired, interleaved) and
//      bwrap's run of the same rootfs;
//   2. create → runner ready to serve (socket answering), and → first exec answered by its shell;
//   3. exec round trip of `true`: through the runner's socket vs `crun exec` / `node-agent exec`.
// crun refuses this host's hybrid cgroups unless the unified mount is out of sight, so it runs
// inside `unshare -m`; that wrapper's own cost is measured and subtracted ("net").
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { RunnerClient } from '@sandkasten/controller/dist/runner/index.js';
import {
  cleanupStateRoot, crun, crunBin, isRoot, makeBundle, makeRootfs, nodeAgent, nodeAgentOk, repoRoot, testStateRoot, uniqueId,
  type Bundle,
} from '../lib/bundle.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 60);
const EXECS = Number(process.env.BENCH_EXECS ?? 2000);
const runnerBin = join(repoRoot, 'runner/build/runner');
const bwrapBin = ['/usr/bin/bwrap'].find((p) => existsSync(p));

const now = (): bigint => process.hrtime.bigint();
const since = (t0: bigint): number => Number(now() - t0) / 1e6;
function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))] ?? NaN;
}
const med = (xs: number[]): number => pct(xs, 50);
const f = (x: number): string => (Number.isNaN(x) ? '–' : x < 1 ? x.toFixed(3) : x.toFixed(2));

function check(r: { status: number | null; stderr: string }, what: string): void {
  if (r.status !== 0) throw new Error(`${what} failed (${r.status}): ${r.stderr}`);
}

function timed(fn: () => void): number {
  const t0 = now();
  fn();
  return since(t0);
}

/** 1. Short-lived sandboxes. */
function lifecycle(b: Bundle): void {
  const crunRoot = `/run/sk-bench-crun-${process.pid}`;
  const s: Record<string, number[]> = { naRun: [], naCsd: [], crunRun: [], crunCsd: [], wrap: [], bwrap: [] };
  const wrapper = () => spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$@"', 'sh', '/bin/true']);
  const bwrapArgs = (b: Bundle) => ['--unshare-all', '--die-with-parent', '--ro-bind', b.rootfs, '/', '--proc', '/proc', '--dev', '/dev', '/bin/true'];
  for (let i = 0; i < ROUNDS + 3; i++) {
    const id = uniqueId('bench');
    const ops: [string, () => void][] = [
      ['naRun', () => check(nodeAgent(['run', '--bundle', b.dir, id]), 'node-agent run')],
      ['naCsd', () => {
        check(nodeAgent(['create', '--bundle', b.dir, `${id}-c`]), 'node-agent create');
        check(nodeAgent(['start', `${id}-c`]), 'node-agent start');
        check(nodeAgent(['delete', '--force', `${id}-c`]), 'node-agent delete');
      }],
      ['wrap', () => wrapper()],
    ];
    if (crunBin) {
      ops.push(['crunRun', () => check(crun(['run', '--bundle', b.dir, id], crunRoot), 'crun run')]);
      ops.push(['crunCsd', () => {
        check(crun(['create', '--bundle', b.dir, `${id}-c`], crunRoot), 'crun create');
        check(crun(['start', `${id}-c`], crunRoot), 'crun start');
        check(crun(['delete', '--force', `${id}-c`], crunRoot), 'crun delete');
      }]);
    }
    if (bwrapBin) ops.push(['bwrap', () => check(spawnSync(bwrapBin, bwrapArgs(b), { encoding: 'utf8' }), 'bwrap')]);
    // A random order each round: whichever runs first after a pause pays the kernel's slow path
    // for the first cgroup move, and no runtime should always be that one.
    for (let k = ops.length - 1; k > 0; k--) {
      const j = Math.floor(Math.random() * (k + 1));
      [ops[k], ops[j]] = [ops[j]!, ops[k]!];
    }
    for (const [name, op] of ops) {
      const ms = timed(op);
      if (i >= 3) s[name]!.push(ms); // the first rounds warm caches
    }
  }
  rmSync(crunRoot, { recursive: true, force: true });
  const w = med(s.wrap!);
  console.log(`\n1. /bin/true in a fresh sandbox (median of ${ROUNDS}, interleaved in random order; crun net = minus the unshare wrapper, ${f(w)} ms)`);
  console.log('| runtime              | run        | create+start+delete |');
  console.log('|----------------------|------------|---------------------|');
  console.log(`| node-agent           | ${f(med(s.naRun!)).padStart(7)} ms | ${f(med(s.naCsd!)).padStart(16)} ms |`);
  if (crunBin) {
    console.log(`| crun (net)           | ${f(med(s.crunRun!) - w).padStart(7)} ms | ${f(med(s.crunCsd!) - 3 * w).padStart(16)} ms |`);
    console.log(`| node-agent / crun    | ${(med(s.naRun!) / (med(s.crunRun!) - w)).toFixed(2).padStart(8)}× | ${(med(s.naCsd!) / (med(s.crunCsd!) - 3 * w)).toFixed(2).padStart(17)}× |   target ≤ 0.80×`);
  } else console.log('| crun                 | not installed |');
  if (bwrapBin) console.log(`| bwrap (no cgroups)   | ${f(med(s.bwrap!)).padStart(7)} ms | –                   |`);
}

/** A bundle whose process is the runner, serving on bundle/run/runner.sock. */
function runnerBundle(rootfs: string): Bundle {
  const b = makeBundle({
    rootfs,
    overlay: true,
    args: ['/.sandkasten/runner', '--socket', '/run/sandkasten/runner.sock', '--ready-fd', '1'],
    env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root', 'TERM=dumb'],
    extraMounts: [
      { destination: '/.sandkasten/runner', type: 'bind', source: runnerBin, options: ['bind', 'ro', 'nosuid', 'nodev'] },
      { destination: '/run/sandkasten', type: 'bind', source: '', options: ['bind', 'nosuid', 'nodev', 'noexec'] },
    ],
  });
  const run = join(b.dir, 'run');
  mkdirSync(run, { recursive: true });
  b.config.mounts.find((m) => m.destination === '/run/sandkasten')!.source = run;
  b.write();
  return b;
}

/** Creates and starts the runner sandbox; resolves when it reports ready (on its stdout). */
async function startRunnerSandbox(b: Bundle, id: string): Promise<{ ready: number; client: RunnerClient; t0: bigint }> {
  const t0 = now();
  const root = testStateRoot();
  const create = spawn(join(repoRoot, 'node-agent/build/node-agent'), ['--root', root, 'create', '--bundle', b.dir, id], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = new Promise<void>((resolve, reject) => {
    create.stdout!.once('data', () => resolve());
    create.stdout!.once('end', () => reject(new Error('runner closed its stdout without reporting ready')));
  });
  const code = await new Promise<number | null>((r) => create.once('exit', r));
  if (code !== 0) throw new Error(`node-agent create exited ${code}`);
  check(nodeAgent(['start', id]), 'node-agent start');
  await ready;
  create.stdout!.destroy();
  return { ready: since(t0), client: new RunnerClient(join(b.dir, 'run', 'runner.sock')), t0 };
}

async function runnerFigures(rootfs: string): Promise<void> {
  const readies: number[] = [];
  const firstExec: number[] = [];
  for (let i = 0; i < Math.min(ROUNDS, 40) + 2; i++) {
    const b = runnerBundle(rootfs);
    const id = uniqueId('bench-runner');
    try {
      const s = await startRunnerSandbox(b, id);
      const r = await s.client.exec('true');
      if (r.exitCode !== 0) throw new Error('exec true failed');
      if (i >= 2) {
        readies.push(s.ready);
        firstExec.push(since(s.t0));
      }
      s.client.close();
    } finally {
      check(nodeAgent(['delete', '--force', id]), 'node-agent delete');
      b.cleanup();
    }
  }
  console.log(`\n2. create → runner ready (median / p99 of ${readies.length})               target median < 15 ms`);
  console.log(`   socket serving:       ${f(med(readies))} / ${f(pct(readies, 99))} ms`);
  console.log(`   first exec answered:  ${f(med(firstExec))} / ${f(pct(firstExec, 99))} ms   (login shell started and answered)`);

  // 3. exec round trips into one running sandbox.
  const b = runnerBundle(rootfs);
  const id = uniqueId('bench-exec');
  const crunRoot = `/run/sk-bench-crun-exec-${process.pid}`;
  const crunId = uniqueId('bench-crun');
  try {
    const s = await startRunnerSandbox(b, id);
    for (let i = 0; i < 200; i++) await s.client.exec('true');
    const viaRunner: number[] = [];
    for (let i = 0; i < EXECS; i++) {
      const t0 = now();
      await s.client.exec('true');
      viaRunner.push(since(t0));
    }
    const viaAgent: number[] = [];
    for (let i = 0; i < 50; i++) viaAgent.push(timed(() => check(nodeAgent(['exec', id, '--', '/bin/true']), 'node-agent exec')));
    let viaCrun: number[] = [];
    let wrap = NaN;
    if (crunBin) {
      const cb = makeBundle({ rootfs, args: ['/bin/sleep', '1000'] });
      try {
        check(crun(['run', '--detach', '--bundle', cb.dir, crunId], crunRoot), 'crun run --detach');
        for (let i = 0; i < 50; i++) viaCrun.push(timed(() => check(crun(['exec', crunId, '/bin/true'], crunRoot), 'crun exec')));
        const ws: number[] = [];
        for (let i = 0; i < 20; i++) ws.push(timed(() => spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$@"', 'sh', '/bin/true'])));
        wrap = med(ws);
      } finally {
        crun(['delete', '--force', crunId], crunRoot);
        cb.cleanup();
        rmSync(crunRoot, { recursive: true, force: true });
      }
    } else viaCrun = [];
    console.log(`\n3. exec round trip of \`true\` into a running sandbox (median / p99)      target median < 0.5 ms`);
    console.log(`   runner socket (persistent shell):  ${f(med(viaRunner))} / ${f(pct(viaRunner, 99))} ms   (n=${viaRunner.length})`);
    console.log(`   node-agent exec (new process):     ${f(med(viaAgent))} / ${f(pct(viaAgent, 99))} ms`);
    if (crunBin) console.log(`   crun exec (net of wrapper):        ${f(med(viaCrun) - wrap)} / ${f(pct(viaCrun, 99) - wrap)} ms`);
    s.client.close();
  } finally {
    check(nodeAgent(['delete', '--force', id]), 'node-agent delete');
    b.cleanup();
  }
}

async function main(): Promise<void> {
  if (!isRoot) throw new Error('run as root: sandboxes need it');
  const rootfs = makeRootfs();
  try {
    console.log(`Sandbox benchmark — busybox rootfs, hardened bundle (all namespaces but user, seccomp, no capabilities)`);
    lifecycle(makeBundle({ rootfs, args: ['/bin/true'] }));
    await runnerFigures(rootfs);
  } finally {
    cleanupStateRoot();
    rmSync(rootfs, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`bench:sandbox failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  cleanupStateRoot();
  process.exit(1);
});
