// The Session reconciler with real sandboxes: an API server and the daemon's controllers over one
// store, Sessions applied over HTTP, the runner reached at its host socket.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Session } from '@sandkasten/api-schemas';
import { readImageMeta, writeImageMeta } from '../images/index.js';
import { RunnerClient } from '../runner/index.js';
import {
  agentRoot,
  buildBundle,
  containerId,
  prepareSessionDirs,
  sessionPaths,
  writeBundleConfig,
} from '../sandbox/index.js';
import { BUNDLED_RUNNER } from '../config/index.js';
import { API, leftovers, median, mountsMentioning, sandboxSkip, sessionsUrl, startSandboxHarness, type SandboxHarness } from './session-testutil.js';

const cond = (s: Session, type: string) => s.status?.conditions?.find((c) => c.type === type);
const isReady = (s: Session) => s.status?.phase === 'Ready';
const cgroupFile = (uid: string, hierarchy: string, file: string) =>
  readFileSync(join('/sys/fs/cgroup', hierarchy, 'sandkasten', containerId(uid), file), 'utf8').trim();

describe('Session reconciler', { skip: sandboxSkip, timeout: 180_000 }, () => {
  let h: SandboxHarness;
  before(async () => {
    h = await startSandboxHarness((c) => {
      c.allowed_images = ['base', 'other'];
    });
  });
  after(async () => {
    await h?.close();
  });

  async function remove(name: string): Promise<void> {
    const r = await h.req('DELETE', `${sessionsUrl()}/${name}`);
    if (r.status !== 404) await h.waitGone(name);
  }

  test('apply → Ready: conditions, sandbox fields, events; exec through the runner socket; delete leaves nothing', async () => {
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await h.create(`lat-${i}`);
      await h.waitSession(`lat-${i}`, isReady, 'Ready');
      latencies.push(performance.now() - t0);
    }
    const created = await h.create('basic', { env: [{ name: 'WHO', value: 'world' }] });
    const s = await h.waitSession('basic', isReady, 'Ready');
    const uid = created.metadata.uid!;
    assert.deepEqual(s.metadata.finalizers, ['sandkasten.dev/sandbox']);
    assert.equal(s.status?.observedGeneration, 1);
    for (const [type, reason] of [['Ready', 'RunnerReady'], ['ImageReady', 'Present'], ['WorkspaceBound', 'Ephemeral'], ['SpecApplied', 'Applied']]) {
      const c = cond(s, type!);
      assert.equal(c?.status, 'True', type);
      assert.equal(c?.reason, reason, type);
      assert.equal(c?.observedGeneration, 1, type);
      assert.ok(c?.lastTransitionTime, type);
    }
    assert.equal(s.status?.sandbox?.id, `sk-${uid}`);
    assert.equal(s.status?.sandbox?.cgroup, `/sandkasten/sk-${uid}`);
    const pid = s.status!.sandbox!.pid!;
    assert.ok(pid > 1);
    assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /^\/\.sandkasten\/runner\0/);
    assert.ok(s.status?.lastActivityTime && s.status.expireTime);
    assert.equal(Date.parse(s.status.expireTime) - Date.parse(s.status.lastActivityTime), 1800_000);

    const c = new RunnerClient(sessionPaths(h.dataDir, uid).socket);
    try {
      const r = await c.exec('echo "hello $WHO from $(hostname)"; pwd; touch /workspace/here');
      assert.equal(r.output.toString(), 'hello world from basic\n/workspace\n');
      assert.ok(existsSync(join(sessionPaths(h.dataDir, uid).workspace, 'here')));
    } finally {
      c.close();
    }
    const reasons = (await h.events('basic')).map((e) => e.reason);
    for (const r of ['Creating', 'Started', 'Ready']) assert.ok(reasons.includes(r), `${r} in ${reasons.join(',')}`);

    const del = await h.req('DELETE', `${sessionsUrl()}/basic`);
    assert.equal(del.status, 202);
    await h.waitGone('basic');
    assert.deepEqual(leftovers(h.dataDir, uid, pid), []);
    // The overlay lives in the sandbox's own mount namespace: the host never sees a mount of data_dir.
    assert.deepEqual(mountsMentioning(h.dataDir), []);
    assert.ok((await h.events('basic')).some((e) => e.reason === 'Deleted'));
    for (let i = 0; i < 5; i++) await remove(`lat-${i}`);
    // Figures for the report (and a bound a broken start path would miss).
    const med = median(latencies);
    console.log(`# POST Session → Ready over HTTP: median ${med.toFixed(1)} ms (${latencies.map((x) => x.toFixed(0)).join(', ')})`);
    assert.ok(med < 2000, `median ${med} ms`);
  });

  test('missing image: ImageReady False ImageNotFound, then Ready once the image appears; allowed_images refuses others', async () => {
    rmSync(join(h.dataDir, 'images', 'other'), { recursive: true, force: true });
    await h.create('img', { image: 'other' });
    const p = await h.waitSession('img', (s) => cond(s, 'ImageReady')?.reason === 'ImageNotFound', 'ImageNotFound');
    assert.equal(p.status?.phase, 'Pending');
    assert.equal(cond(p, 'ImageReady')?.status, 'False');
    assert.match(cond(p, 'ImageReady')?.message ?? '', /image "other" is not on this host/);
    assert.equal(cond(p, 'Ready')?.status, 'False');
    const base = readImageMeta(h.dataDir, 'base')!;
    writeImageMeta(h.dataDir, { ...base, name: 'other' });
    const r = await h.waitSession('img', isReady, 'Ready after the image appeared', 15_000);
    assert.equal(cond(r, 'ImageReady')?.status, 'True');
    assert.ok((await h.events('img')).some((e) => e.reason === 'ImageNotFound' && e.type === 'Warning'));
    await remove('img');

    await h.create('forbidden', { image: 'python' });
    const f = await h.waitSession('forbidden', (s) => cond(s, 'ImageReady')?.reason === 'ImageNotAllowed', 'ImageNotAllowed');
    assert.equal(f.status?.phase, 'Pending');
    assert.match(cond(f, 'ImageReady')!.message!, /image "python" is not allowed on this daemon \(allowed_images: base, other\)/);
    await remove('forbidden');
  });

  test('refused specs stay Pending with a clear condition (bridge network, unconfined seccomp); a spec node-agent cannot make fails, and is retried once fixed', async () => {
    await h.create('bridge', { network: { mode: 'bridge' } });
    const b = await h.waitSession('bridge', (s) => cond(s, 'Ready')?.reason === 'NetworkUnsupported', 'NetworkUnsupported');
    assert.equal(b.status?.phase, 'Pending');
    assert.match(cond(b, 'Ready')!.message!, /bridge networking is not supported yet/);
    // Fixing the spec starts it.
    await h.req('PATCH', `${sessionsUrl()}/bridge`, { spec: { network: { mode: 'none' } } }, 'application/merge-patch+json');
    await h.waitSession('bridge', isReady, 'Ready after the fix');
    await h.create('unconfined', { securityProfile: { seccomp: 'unconfined' } });
    const u = await h.waitSession('unconfined', (s) => cond(s, 'Ready')?.reason === 'SeccompRefused', 'SeccompRefused');
    assert.match(cond(u, 'Ready')!.message!, /"unconfined" is refused/);
    // What node-agent cannot make: Failed with its message, and tried again once the spec changes.
    await h.create('cwd', { workingDir: '/does/not/exist' });
    const c = await h.waitSession('cwd', (s) => s.status?.phase === 'Failed', 'Failed');
    assert.equal(c.status?.reason, 'CreateFailed');
    assert.match(c.status!.message!, /chdir to process\.cwd `\/does\/not\/exist`: No such file or directory/);
    await h.req('PATCH', `${sessionsUrl()}/cwd`, { spec: { workingDir: '/tmp' } }, 'application/merge-patch+json');
    await h.waitSession('cwd', isReady, 'Ready after the fix');
    await remove('bridge');
    await remove('unconfined');
    await remove('cwd');
  });

  test('a Workspace: WorkspaceNotFound until it exists, then mounted; it survives the session', async () => {
    await h.create('ws-user', { workspace: 'data' });
    await h.waitSession('ws-user', (s) => cond(s, 'WorkspaceBound')?.reason === 'WorkspaceNotFound', 'WorkspaceNotFound');
    const w = await h.req('POST', `${API}/namespaces/default/workspaces`, { apiVersion: 'sandkasten.dev/v1', kind: 'Workspace', metadata: { name: 'data' }, spec: {} });
    assert.equal(w.status, 201);
    const s = await h.waitSession('ws-user', isReady, 'Ready with the workspace', 15_000);
    assert.equal(cond(s, 'WorkspaceBound')?.reason, 'Bound');
    const c = new RunnerClient(sessionPaths(h.dataDir, s.metadata.uid!).socket);
    try {
      const r = await c.exec('echo kept > /workspace/file && cat /workspace/file');
      assert.equal(r.output.toString(), 'kept\n');
    } finally {
      c.close();
    }
    await remove('ws-user');
    assert.equal(readFileSync(join(h.dataDir, 'workspaces', 'default', 'data', 'file'), 'utf8'), 'kept\n');
    await h.req('DELETE', `${API}/namespaces/default/workspaces/data`);
  });

  test('resources change live (cgroup files, observedGeneration); an image change is reported, not applied', async () => {
    const created = await h.create('live', { resources: { memory: '128Mi', pids: 100 } });
    const uid = created.metadata.uid!;
    await h.waitSession('live', isReady, 'Ready');
    assert.equal(cgroupFile(uid, 'memory', 'memory.limit_in_bytes'), String(128 * 1024 * 1024));
    await h.req('PATCH', `${sessionsUrl()}/live`, { spec: { resources: { memory: '200Mi', pids: 50, cpu: '250m' } } }, 'application/merge-patch+json');
    const s = await h.waitSession('live', (x) => x.status?.observedGeneration === 2, 'observedGeneration 2');
    assert.equal(cond(s, 'SpecApplied')?.status, 'True');
    assert.match(cond(s, 'SpecApplied')!.message!, /limits updated live: memory 200Mi, cpu 0.25, pids 50/);
    assert.equal(cgroupFile(uid, 'memory', 'memory.limit_in_bytes'), String(200 * 1024 * 1024));
    assert.equal(cgroupFile(uid, 'memory', 'memory.memsw.limit_in_bytes'), String(200 * 1024 * 1024));
    assert.equal(cgroupFile(uid, 'pids', 'pids.max'), '50');
    assert.equal(cgroupFile(uid, 'cpu', 'cpu.cfs_quota_us'), '25000');
    assert.ok((await h.events('live')).some((e) => e.reason === 'ResourcesUpdated'));

    await h.req('PATCH', `${sessionsUrl()}/live`, { spec: { image: 'other', network: { mode: 'host' } } }, 'application/merge-patch+json');
    const d = await h.waitSession('live', (x) => x.status?.observedGeneration === 3, 'observedGeneration 3');
    const sa = cond(d, 'SpecApplied')!;
    assert.equal(sa.status, 'False');
    assert.equal(sa.reason, 'RecreateRequired');
    assert.match(sa.message!, /image, network cannot change on a running session.*delete the session and create it again/);
    assert.equal(d.status?.phase, 'Ready');
    assert.equal(cond(d, 'Ready')?.status, 'True');
    await remove('live');
  });

  test('writes to a Ready session do not run node-agent state while its runner is watched; the periodic check still does', async () => {
    const created = await h.create('quiet');
    const id = containerId(created.metadata.uid!);
    await h.waitSession('quiet', isReady, 'Ready');
    const agent = h.controllers!.agent;
    const state = agent.state.bind(agent);
    const calls: number[] = [];
    agent.state = (x) => {
      if (x === id) calls.push(performance.now());
      return state(x);
    };
    try {
      const t0 = performance.now();
      // Each label change is an update of the object, so a reconcile (as activity and status writes are).
      for (let i = 0; i < 20; i++) {
        const r = await h.req('PATCH', `${sessionsUrl()}/quiet`, { metadata: { labels: { round: String(i) } } }, 'application/merge-patch+json');
        assert.equal(r.status, 200);
        await new Promise((res) => setTimeout(res, 5));
      }
      const took = performance.now() - t0;
      // The harness checks health every 500 ms: at most one check per period came from node-agent.
      assert.ok(calls.length <= Math.ceil(took / 450) + 1, `${calls.length} state calls in ${took.toFixed(0)} ms`);
      const n = calls.length;
      await new Promise((res) => setTimeout(res, 1200));
      assert.ok(calls.length >= n + 1, 'the periodic health check asks node-agent');
      assert.equal((await h.get('quiet'))?.status?.phase, 'Ready');
    } finally {
      agent.state = state;
      await remove('quiet');
    }
  });

  test('the runner killed from the host: Failed, RunnerExited; its files stay until deletion', async () => {
    const created = await h.create('killed');
    const s = await h.waitSession('killed', isReady, 'Ready');
    process.kill(s.status!.sandbox!.pid!, 'SIGKILL');
    const f = await h.waitSession('killed', (x) => x.status?.phase === 'Failed', 'Failed', 5000);
    assert.equal(f.status?.reason, 'RunnerExited');
    assert.match(f.status!.message!, /the runner \(pid \d+\) exited; its exit status cannot be observed/);
    assert.equal(cond(f, 'Ready')?.status, 'False');
    assert.ok(existsSync(sessionPaths(h.dataDir, created.metadata.uid!).upper));
    assert.deepEqual(leftovers(h.dataDir, created.metadata.uid!, s.status!.sandbox!.pid).filter((l) => !l.startsWith('directory')), []);
    assert.ok((await h.events('killed')).some((e) => e.reason === 'RunnerExited' && e.type === 'Warning'));
    await remove('killed');
    assert.deepEqual(leftovers(h.dataDir, created.metadata.uid!), []);
  });

  test('OOM: a hog in the shell is killed and the session stays Ready; the runner killed by OOM → Failed OOMKilled', async () => {
    const created = await h.create('oom', { resources: { memory: '64Mi' } });
    const s = await h.waitSession('oom', isReady, 'Ready');
    const c = new RunnerClient(sessionPaths(h.dataDir, created.metadata.uid!).socket);
    try {
      await c.exec('export KEEP=1');
      const hog = await c.exec(`${process.execPath} -e 'const a=[]; for(;;) a.push(Buffer.alloc(1<<20, 1))'; echo "status=$?"`, { timeoutMs: 60_000 });
      assert.match(hog.output.toString(), /status=137/);
      assert.equal((await c.exec('echo $KEEP')).output.toString(), '1\n');
      await new Promise((r) => setTimeout(r, 700)); // a health check sees it
      assert.equal((await h.get('oom'))?.status?.phase, 'Ready');
      // Make the runner the OOM killer's first choice (its score gains ~the whole limit), then
      // exhaust memory with four hogs, each far smaller than the limit.
      writeFileSync(`/proc/${s.status!.sandbox!.pid}/oom_score_adj`, '1000');
      await c.exec('for i in 1 2 3 4; do (head -c 30M /dev/zero | tail > /dev/null) & done; wait', { timeoutMs: 60_000 }).catch(() => {});
      const f = await h.waitSession('oom', (x) => x.status?.phase === 'Failed', 'Failed', 10_000);
      assert.equal(f.status?.reason, 'OOMKilled');
      assert.match(f.status!.message!, /killed by the OOM killer \(memory limit 64Mi\)/);
    } finally {
      c.close();
      await remove('oom');
    }
  });

  test('restart of the controllers: a created (not started) container is started, a half-created one recreated, a running one adopted', async () => {
    // Sessions whose sandboxes were left mid-way by a crash: made while the controllers are down.
    await h.stopControllers();
    const mk = async (name: string) => {
      const r = await h.req('POST', sessionsUrl(), { apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name, finalizers: ['sandkasten.dev/sandbox'] }, spec: {} });
      return r.body as Session;
    };
    const created = await mk('half-created');
    const creating = await mk('half-creating');
    {
      const p = sessionPaths(h.dataDir, created.metadata.uid!);
      const b = buildBundle({ dataDir: h.dataDir, session: created, image: readImageMeta(h.dataDir, 'base')!, config: h.config, runnerPath: BUNDLED_RUNNER, workspaceSource: p.workspace });
      prepareSessionDirs(p, { uid: 0, gid: 0 }, true);
      writeBundleConfig(p, b.config);
      await h.agent.create(containerId(created.metadata.uid!), p.bundle, p.log);
      assert.equal((await h.agent.state(containerId(created.metadata.uid!)))?.status, 'created');
      // A state directory without state.json: node-agent crashed inside create.
      mkdirSync(join(agentRoot(h.dataDir), containerId(creating.metadata.uid!)), { recursive: true });
      assert.equal((await h.agent.state(containerId(creating.metadata.uid!)))?.status, 'creating');
    }
    await h.startControllers();
    await h.waitSession('half-created', isReady, 'Ready (started)');
    await h.waitSession('half-creating', isReady, 'Ready (recreated)');
    const pidBefore = (await h.get('half-created'))!.status!.sandbox!.pid;
    await h.stopControllers();
    await h.startControllers();
    await new Promise((r) => setTimeout(r, 300));
    const again = await h.waitSession('half-created', isReady, 'Ready after a second restart');
    assert.equal(again.status?.sandbox?.pid, pidBefore);
    await remove('half-created');
    await remove('half-creating');
    assert.deepEqual(leftovers(h.dataDir, created.metadata.uid!), []);
    assert.deepEqual(leftovers(h.dataDir, creating.metadata.uid!), []);
  });

  test('20 create/delete cycles leave nothing behind', async () => {
    const uids: string[] = [];
    const pids: number[] = [];
    for (let round = 0; round < 4; round++) {
      const names = [0, 1, 2, 3, 4].map((i) => `cycle-${round}-${i}`);
      const made = await Promise.all(names.map((n) => h.create(n)));
      uids.push(...made.map((m) => m.metadata.uid!));
      const ready = await Promise.all(names.map((n) => h.waitSession(n, isReady, 'Ready', 15_000)));
      pids.push(...ready.map((r) => r.status!.sandbox!.pid!));
      await Promise.all(names.map((n) => remove(n)));
    }
    for (let i = 0; i < uids.length; i++) assert.deepEqual(leftovers(h.dataDir, uids[i]!, pids[i]), [], uids[i]);
    assert.deepEqual((await h.agent.list()).map((c) => c.id), []);
    assert.equal(existsSync(join(h.dataDir, 'sessions')) ? (await import('node:fs')).readdirSync(join(h.dataDir, 'sessions')).length : 0, 0);
  });
});
