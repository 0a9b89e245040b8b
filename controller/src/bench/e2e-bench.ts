// `npm run bench:e2e` (as root): the whole path, against the real daemon (the `sandkasten` binary
// in a child process, a fresh data_dir, the built-in image `base`), in one run:
//   1. POST a Session, watch it until Ready, POST exec `true`: time to the first exec result,
//      with the split (create answered / Ready seen on the watch / exec answered) and the
//      controller's own figure for the runner (from the Ready Event);
//   2. exec round trip of `true` into a Ready session: over HTTP (the exec subresource and the
//      /v1 API), and straight through the runner's socket on the host;
//   3. crun `run` and `exec` (and node-agent's) of the same rootfs and bundle: the session's own
//      config.json, with the image's layers overlaid on the host for crun, which takes no overlay.
// crun refuses this host's hybrid cgroups unless the unified mount is out of sight, so it runs
// inside `unshare -m`; that wrapper's own cost is measured and subtracted ("net").
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'undici';
import { BUNDLED_NODE_AGENT } from '../config/index.js';
import { RunnerClient } from '../runner/index.js';
import { agentRoot } from '../sandbox/paths.js';
import { startBenchDaemon } from './daemon.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);
const EXECS = Number(process.env.BENCH_EXECS ?? 1000);
const SPAWNS = Number(process.env.BENCH_SPAWNS ?? 40);
const TOKEN = 'bench-key';
const SESSIONS = '/apis/sandkasten.dev/v1/namespaces/default/sessions';
const crunBin = ['/usr/bin/crun', '/usr/local/bin/crun'].find((p) => existsSync(p));

const now = (): bigint => process.hrtime.bigint();
const since = (t0: bigint): number => Number(now() - t0) / 1e6;
function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))] ?? NaN;
}
const med = (xs: number[]): number => pct(xs, 50);
const f = (x: number): string => (Number.isNaN(x) ? '–' : x < 1 ? x.toFixed(3) : x.toFixed(2));

let port = 0;
let http: Client | undefined;

interface Reply {
  status: number;
  body: string;
}

async function request(method: string, path: string, body?: unknown): Promise<Reply> {
  http ??= new Client(`http://127.0.0.1:${port}`, { pipelining: 1 });
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
  if (payload !== undefined) headers['content-type'] = 'application/json';
  const r = await http.request({ method: method as 'GET', path, headers, body: payload });
  return { status: r.statusCode, body: await r.body.text() };
}

function expect(r: Reply, code: number, what: string): Record<string, unknown> {
  if (r.status !== code) throw new Error(`${what}: HTTP ${r.status}: ${r.body.slice(0, 500)}`);
  return JSON.parse(r.body) as Record<string, unknown>;
}


async function startDaemon(dir: string): Promise<ChildProcess> {
  const d = await startBenchDaemon({
    dir,
    token: TOKEN,
    isReady: async (p) => {
      port = p;
      http = undefined; // a fresh connection pool per attempt
      return (await request('GET', '/readyz')).status === 200;
    },
  });
  return d.child;
}

const sessionObject = (name: string) => ({
  apiVersion: 'sandkasten.dev/v1',
  kind: 'Session',
  metadata: { name },
  spec: { image: 'base', ttlSeconds: 3600 },
});

/** When the watch showed each step, in ms from `t0`. */
interface Steps {
  finalizer?: number;
  starting?: number;
  ready: number;
}

/**
 * Watches one session from `rv` (as `kubectl wait` does) until its phase is Ready; notes when the
 * controller's writes before it arrived (the finalizer, phase Starting).
 */
async function watchReady(name: string, rv: string, t0: bigint): Promise<Steps> {
  const c = new Client(`http://127.0.0.1:${port}`);
  const steps: Partial<Steps> = {};
  try {
    const path = `${SESSIONS}?watch=1&resourceVersion=${rv}&fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}`;
    const res = await c.request({ method: 'GET', path, headers: { authorization: `Bearer ${TOKEN}` } });
    if (res.statusCode !== 200) throw new Error(`watch: HTTP ${res.statusCode}: ${await res.body.text()}`);
    let buf = '';
    for await (const chunk of res.body) {
      const at = since(t0);
      buf += (chunk as Buffer).toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const ev = JSON.parse(buf.slice(0, nl)) as { type: string; object: { metadata: { finalizers?: string[] }; status?: { phase?: string; message?: string } } };
        buf = buf.slice(nl + 1);
        const phase = ev.object.status?.phase;
        if (ev.object.metadata.finalizers?.length) steps.finalizer ??= at;
        if (phase === 'Starting') steps.starting ??= at;
        if (phase === 'Ready') {
          res.body.destroy();
          return { ...steps, ready: at };
        }
        if (phase === 'Failed' || ev.type === 'DELETED') throw new Error(`session ${name}: ${phase ?? ev.type}: ${ev.object.status?.message ?? ''}`);
      }
    }
    throw new Error(`session ${name}: the watch ended before Ready`);
  } finally {
    await c.destroy();
  }
}

interface FirstExec {
  total: number;
  created: number;
  steps: Steps;
  exec: number;
  /** "runner answered X ms after the sandbox started", from the Ready Event. */
  runner?: number;
}

async function firstExec(name: string): Promise<FirstExec> {
  const t0 = now();
  const created = expect(await request('POST', SESSIONS, sessionObject(name)), 201, 'create');
  const tCreated = since(t0);
  const steps = await watchReady(name, (created.metadata as { resourceVersion: string }).resourceVersion, t0);
  const tReady = since(t0);
  const r = expect(await request('POST', `${SESSIONS}/${name}/exec`, { command: 'true' }), 200, 'exec');
  const total = since(t0);
  if (r.exitCode !== 0) throw new Error(`exec true: exit ${String(r.exitCode)}`);
  return { total, created: tCreated, steps, exec: total - tReady };
}

/** The controller's figure for the runner's start, from the session's Ready Event. */
async function runnerFigure(name: string): Promise<number | undefined> {
  const r = expect(
    await request('GET', `/apis/sandkasten.dev/v1/namespaces/default/events?fieldSelector=${encodeURIComponent(`involvedObject.name=${name},reason=Ready`)}`),
    200,
    'events',
  );
  const msg = ((r.items as { message: string }[])[0] ?? { message: '' }).message;
  const m = /runner answered ([\d.]+) ms/.exec(msg);
  return m ? Number(m[1]) : undefined;
}

async function timedLoop(n: number, op: () => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = now();
    await op();
    out.push(since(t0));
  }
  return out;
}

// ---- crun and node-agent with the session's bundle --------------------------------------------

const WRAP = 'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$@"';

function check(r: { status: number | null; stderr: string | Buffer }, what: string): void {
  if (r.status !== 0) throw new Error(`${what} failed (${r.status}): ${r.stderr.toString()}`);
}

function timed(fn: () => void): number {
  const t0 = now();
  fn();
  return since(t0);
}

interface SpawnFigures {
  wrap: number;
  crunRun: number[];
  crunExec: number[];
  agentRun: number[];
  agentExec: number[];
  /** node-agent run --detach of the session's own bundle (the runner as PID 1) until the runner answers. */
  agentRunner: number[];
}

/**
 * The session's config.json made runnable by crun and node-agent outside the daemon: its own
 * run/ and workspace directories, a cgroup of its own, the image's layers overlaid on the host
 * for crun (node-agent makes the overlay itself from the annotations).
 */
async function spawnFigures(sessionConfig: string, dir: string): Promise<SpawnFigures> {
  const base = JSON.parse(readFileSync(sessionConfig, 'utf8')) as {
    process: { args: string[] };
    root: { path: string };
    mounts: { destination: string; source?: string }[];
    annotations: Record<string, string>;
    linux: { cgroupsPath: string };
  };
  const bdir = join(dir, 'spawn');
  for (const d of ['run', 'workspace', 'upper', 'work', 'merged', 'agent-upper', 'agent-work', 'agent-rootfs']) mkdirSync(join(bdir, d), { recursive: true });
  const bundle = (name: string, args: string[], crun: boolean): string => {
    const c = structuredClone(base);
    c.process.args = args;
    for (const m of c.mounts) {
      if (m.destination === '/run/sandkasten') m.source = join(bdir, 'run');
      if (m.destination === '/workspace') m.source = join(bdir, 'workspace');
    }
    c.linux.cgroupsPath = `/sandkasten-bench/${name}-${process.pid}`;
    if (crun) {
      c.root.path = join(bdir, 'merged');
      c.annotations = {};
    } else {
      c.root.path = join(bdir, 'agent-rootfs');
      c.annotations = {
        'sandkasten.dev/overlay.lowerdirs': base.annotations['sandkasten.dev/overlay.lowerdirs']!,
        'sandkasten.dev/overlay.upperdir': join(bdir, 'agent-upper'),
        'sandkasten.dev/overlay.workdir': join(bdir, 'agent-work'),
      };
    }
    const b = join(bdir, name);
    mkdirSync(b, { recursive: true });
    writeFileSync(join(b, 'config.json'), JSON.stringify(c));
    return b;
  };
  const lower = base.annotations['sandkasten.dev/overlay.lowerdirs']!;
  check(
    spawnSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${join(bdir, 'upper')},workdir=${join(bdir, 'work')}`, join(bdir, 'merged')], { encoding: 'utf8' }),
    'overlay mount for crun',
  );
  const agentRoot = join('/run', `sk-bench-e2e-agent-${process.pid}`);
  const crunRoot = join('/run', `sk-bench-e2e-crun-${process.pid}`);
  // A detached container keeps whatever stdout/stderr it was given: those of a detached start go
  // to a file, or spawnSync would wait for the pipes to close (when the container ends).
  const errLog = join(bdir, 'detached.err');
  const run = (cmd: string, argv: string[]): { status: number | null; stderr: string } => {
    if (!argv.includes('--detach')) {
      const r = spawnSync(cmd, argv, { encoding: 'utf8' });
      return { status: r.status, stderr: r.stderr };
    }
    const fd = openSync(errLog, 'w');
    try {
      const r = spawnSync(cmd, argv, { stdio: ['ignore', 'ignore', fd] });
      return { status: r.status, stderr: readFileSync(errLog, 'utf8') };
    } finally {
      closeSync(fd);
    }
  };
  const agent = (args: string[]) => run(BUNDLED_NODE_AGENT, ['--root', agentRoot, ...args]);
  const crun = (args: string[]) => run('unshare', ['-m', '--propagation', 'private', 'sh', '-c', WRAP, 'sh', crunBin!, '--root', crunRoot, ...args]);
  const out: SpawnFigures = { wrap: NaN, crunRun: [], crunExec: [], agentRun: [], agentExec: [], agentRunner: [] };
  try {
    const trueCrun = bundle('true-crun', ['/bin/true'], true);
    const trueAgent = bundle('true-agent', ['/bin/true'], false);
    const wraps: number[] = [];
    for (let i = 0; i < SPAWNS + 3; i++) {
      const keep = i >= 3;
      const id = `bench-run-${process.pid}-${i}`;
      const a = timed(() => check(agent(['run', '--bundle', trueAgent, id]), 'node-agent run'));
      agent(['delete', '--force', id]);
      const w = timed(() => check(spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', WRAP, 'sh', '/bin/true']), 'unshare wrapper'));
      let c = NaN;
      if (crunBin) {
        c = timed(() => check(crun(['run', '--bundle', trueCrun, id]), 'crun run'));
        crun(['delete', '--force', id]);
      }
      if (!keep) continue;
      out.agentRun.push(a);
      out.crunRun.push(c);
      wraps.push(w);
    }
    out.wrap = med(wraps);

    // What the Session controller does to start a sandbox, without the controller: node-agent run
    // --detach of the session's bundle, then wait for the runner's socket to answer.
    const runnerAgent = bundle('runner-agent', base.process.args, false);
    const socket = join(bdir, 'run', 'runner.sock');
    for (let i = 0; i < SPAWNS + 3; i++) {
      const id = `bench-runner-${process.pid}-${i}`;
      rmSync(socket, { force: true });
      const t0 = now();
      check(agent(['run', '--detach', '--bundle', runnerAgent, id]), 'node-agent run --detach (runner)');
      let delay = 0.25;
      while (!existsSync(socket)) {
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 50);
      }
      const c = new RunnerClient(socket);
      await c.info();
      const t = since(t0);
      c.close();
      agent(['delete', '--force', id]);
      if (i >= 3) out.agentRunner.push(t);
    }

    const sleepAgent = bundle('sleep-agent', ['/bin/sleep', '1000'], false);
    const agentId = `bench-exec-agent-${process.pid}`;
    check(agent(['run', '--detach', '--bundle', sleepAgent, agentId]), 'node-agent run --detach');
    try {
      for (let i = 0; i < SPAWNS + 3; i++) {
        const t = timed(() => check(agent(['exec', agentId, '--', '/bin/true']), 'node-agent exec'));
        if (i >= 3) out.agentExec.push(t);
      }
    } finally {
      agent(['delete', '--force', agentId]);
    }
    if (crunBin) {
      const sleepCrun = bundle('sleep-crun', ['/bin/sleep', '1000'], true);
      const crunId = `bench-exec-crun-${process.pid}`;
      check(crun(['run', '--detach', '--bundle', sleepCrun, crunId]), 'crun run --detach');
      try {
        for (let i = 0; i < SPAWNS + 3; i++) {
          const t = timed(() => check(crun(['exec', crunId, '/bin/true']), 'crun exec'));
          if (i >= 3) out.crunExec.push(t);
        }
      } finally {
        crun(['delete', '--force', crunId]);
      }
    }
  } finally {
    spawnSync('umount', [join(bdir, 'merged')]);
    rmSync(agentRoot, { recursive: true, force: true });
    rmSync(crunRoot, { recursive: true, force: true });
    for (const c of ['memory', 'cpu', 'cpuacct', 'pids', 'freezer', 'devices', 'blkio', 'cpuset', 'net_cls', 'perf_event', 'hugetlb', 'unified', 'systemd']) {
      spawnSync('sh', ['-c', `rmdir /sys/fs/cgroup/${c}/sandkasten-bench/*-${process.pid} /sys/fs/cgroup/${c}/sandkasten-bench 2>/dev/null`]);
    }
  }
  return out;
}

// ---- the run ----------------------------------------------------------------------------------

function row(what: string, median: number, p99: number | undefined, target: string): string {
  const m = `${f(median)} ms`.padStart(11);
  const p = p99 === undefined ? ''.padStart(11) : `${f(p99)} ms`.padStart(11);
  return `| ${what.padEnd(64)} | ${m} | ${p} | ${target.padEnd(22)} |`;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root: sandboxes need it');
  const dir = mkdtempSync(join(tmpdir(), 'sk-bench-e2e-'));
  const load0 = loadavg()[0]!;
  const daemon = await startDaemon(dir);
  const names: string[] = [];
  try {
    // Warm-up: the first sessions pay for cold caches (the image's files, node's JIT).
    for (let i = 0; i < 3; i++) {
      names.push(`warm-${i}`);
      await firstExec(`warm-${i}`);
    }
    const first: FirstExec[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const name = `bench-${i}`;
      names.push(name);
      const r = await firstExec(name);
      r.runner = await runnerFigure(name);
      first.push(r);
    }

    // Exec round trips into one Ready session.
    const name = 'bench-0';
    const s = expect(await request('GET', `${SESSIONS}/${name}`), 200, 'get');
    const uid = (s.metadata as { uid: string }).uid;
    const http = async () => {
      const r = await request('POST', `${SESSIONS}/${name}/exec`, { command: 'true' });
      if (r.status !== 200) throw new Error(`exec: ${r.status} ${r.body}`);
    };
    const v1 = async () => {
      const r = await request('POST', `/v1/sessions/${name}/exec`, { cmd: 'true' });
      if (r.status !== 200) throw new Error(`/v1 exec: ${r.status} ${r.body}`);
    };
    const runner = new RunnerClient(join(dir, 'data', 'sessions', uid, 'run', 'runner.sock'));
    const direct = async () => {
      await runner.exec('true');
    };
    await timedLoop(200, http);
    await timedLoop(200, v1);
    await timedLoop(200, direct);
    // Interleaved in blocks, so drift in the machine's load affects all three alike.
    const viaHttp: number[] = [];
    const viaV1: number[] = [];
    const viaRunner: number[] = [];
    for (let b = 0; b < 10; b++) {
      viaHttp.push(...(await timedLoop(EXECS / 10, http)));
      viaV1.push(...(await timedLoop(EXECS / 10, v1)));
      viaRunner.push(...(await timedLoop(EXECS / 10, direct)));
    }
    runner.close();

    const spawnFig = await spawnFigures(join(dir, 'data', 'sessions', uid, 'config.json'), dir);

    const totals = first.map((x) => x.total);
    const runnerStarts = first.map((x) => x.runner).filter((x): x is number => x !== undefined);
    const okFirst = med(totals) < 25 && pct(totals, 99) < 60;
    const okExec = med(viaHttp) < 2;
    console.log(`End-to-end benchmark — the sandkasten daemon (child process), built-in image \`base\`, ${ROUNDS} sessions, ${EXECS} execs per path`);
    console.log('');
    console.log(`| ${'what'.padEnd(64)} | ${'median'.padStart(11)} | ${'p99'.padStart(11)} | ${'target'.padEnd(22)} |`);
    console.log(`|${'-'.repeat(66)}|${'-'.repeat(13)}|${'-'.repeat(13)}|${'-'.repeat(24)}|`);
    console.log(row('POST Session → first exec result (HTTP)', med(totals), pct(totals, 99), `< 25 / < 60 ms ${okFirst ? 'met' : 'MISSED'}`));
    // Each step from the end of the one before (the watch shows each write of the controller).
    const step = (get: (x: FirstExec) => number | undefined, prev: (x: FirstExec) => number) =>
      first.map((x) => (get(x) ?? NaN) - prev(x)).filter((x) => !Number.isNaN(x));
    const created = step((x) => x.created, () => 0);
    const starting = step((x) => x.steps.starting ?? x.steps.finalizer, (x) => x.created);
    const ready = step((x) => x.steps.ready, (x) => x.steps.starting ?? x.steps.finalizer ?? x.created);
    console.log(row('  POST answered (201)', med(created), pct(created, 99), ''));
    console.log(row('  → Starting on the watch (queue, finalizer, image, workspace)', med(starting), pct(starting, 99), ''));
    console.log(row('  → Ready on the watch (bundle, node-agent run, runner, status)', med(ready), pct(ready, 99), ''));
    console.log(row('      of which: the runner answering after node-agent run', med(runnerStarts), pct(runnerStarts, 99), ''));
    console.log(row('  → first exec `true` answered (waits for the login shell)', med(first.map((x) => x.exec)), pct(first.map((x) => x.exec), 99), ''));
    console.log(row('exec round trip `true`, HTTP (…/sessions/{name}/exec)', med(viaHttp), pct(viaHttp, 99), `< 2 ms ${okExec ? 'met' : 'MISSED'}`));
    console.log(row('exec round trip `true`, HTTP /v1 (…/v1/sessions/{id}/exec)', med(viaV1), pct(viaV1, 99), ''));
    console.log(row('exec round trip `true`, runner socket (host)', med(viaRunner), pct(viaRunner, 99), ''));
    const w = spawnFig.wrap;
    if (crunBin) {
      console.log(row(`crun run /bin/true, same rootfs+bundle (net)`, med(spawnFig.crunRun) - w, pct(spawnFig.crunRun, 99) - w, ''));
      console.log(row(`crun exec /bin/true into it (net)`, med(spawnFig.crunExec) - w, pct(spawnFig.crunExec, 99) - w, ''));
    } else console.log('| crun: not installed |');
    console.log(row('node-agent run /bin/true, same bundle', med(spawnFig.agentRun), pct(spawnFig.agentRun, 99), ''));
    console.log(row('node-agent exec /bin/true into it', med(spawnFig.agentExec), pct(spawnFig.agentExec, 99), ''));
    console.log(row('node-agent run --detach of the session bundle → runner answers', med(spawnFig.agentRunner), pct(spawnFig.agentRunner, 99), ''));
    console.log('');
    console.log(`Host load average (1 min) ${load0.toFixed(2)} at the start, ${loadavg()[0]!.toFixed(2)} at the end: on a busy host every figure grows.`);
    console.log(`crun runs inside \`unshare -m\` with /sys/fs/cgroup/unified unmounted (this host's hybrid cgroups); net = minus that wrapper's own median, ${f(w)} ms.`);
    console.log(`crun and node-agent spawn figures: median / p99 of ${SPAWNS}; the session's config.json (namespaces, seccomp, limits, mounts), the image's layers as its overlay.`);
  } finally {
    for (const n of names) await request('DELETE', `${SESSIONS}/${n}`).catch(() => undefined);
    const end = Date.now() + 30_000;
    while (Date.now() < end) {
      const r = await request('GET', SESSIONS).catch(() => undefined);
      if (!r || (JSON.parse(r.body) as { items: unknown[] }).items.length === 0) break;
      await new Promise((x) => setTimeout(x, 100));
    }
    await http?.close();
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    // Sandboxes the daemon did not remove (a failed run) go with their state root.
    const root = agentRoot(join(dir, 'data'));
    for (const id of existsSync(root) ? readdirSync(root) : []) spawnSync(BUNDLED_NODE_AGENT, ['--root', root, 'delete', '--force', id], { stdio: 'ignore' });
    rmSync(root, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`bench:e2e failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
});
