// Bundles from buildBundle run for real under node-agent with the runner as PID 1: mounts,
// identity, limits in the cgroup, both seccomp profiles with bash/python/node, live updates,
// oomKills in node-agent state, typed node-agent errors; and what buildBundle refuses.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigDefaults, type ResolvedConfig, type Session } from '@sandkasten/api-schemas';
import { BUNDLED_NODE_AGENT, BUNDLED_RUNNER } from '../config/index.js';
import { prepareBuiltinImage, type ImageMeta } from '../images/index.js';
import { RunnerClient } from '../runner/index.js';
import {
  agentRoot,
  buildBundle,
  BundleError,
  changedSettings,
  containerId,
  fixedSettingsOf,
  NodeAgent,
  NodeAgentError,
  prepareSessionDirs,
  readBundleConfig,
  removeCgroupLeftovers,
  removeSessionDir,
  sessionPaths,
  writeBundleConfig,
  type BundleInput,
} from './index.js';

const isRoot = process.getuid?.() === 0;
const skip = !isRoot ? 'needs root' : !existsSync(BUNDLED_NODE_AGENT) || !existsSync(BUNDLED_RUNNER) ? 'node-agent/runner not built' : false;

function session(spec: Session['spec'] = {}, name = 'box'): Session {
  return { apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name, namespace: 'default', uid: randomUUID(), generation: 1 }, spec };
}

function config(patch: (c: ResolvedConfig) => void = () => {}): ResolvedConfig {
  const c = loadConfigDefaults();
  patch(c);
  return c;
}

async function waitForSocket(path: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!existsSync(path)) {
    if (Date.now() > end) throw new Error(`no runner socket at ${path}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('sandboxes from buildBundle', { skip, timeout: 120_000 }, () => {
  let dataDir: string;
  let meta: ImageMeta;
  let agent: NodeAgent;
  const started: string[] = [];

  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'sk-sandbox-test-'));
    meta = prepareBuiltinImage(dataDir);
    agent = new NodeAgent({ binary: BUNDLED_NODE_AGENT, root: agentRoot(dataDir) });
  });

  after(async () => {
    for (const uid of started) {
      await agent.delete(containerId(uid)).catch(() => {});
      removeCgroupLeftovers(uid);
    }
    rmSync(agentRoot(dataDir), { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function start(s: Session, extra: Partial<BundleInput> = {}, cfg = config()) {
    const uid = s.metadata.uid!;
    const p = sessionPaths(dataDir, uid);
    const b = buildBundle({ dataDir, session: s, image: meta, config: cfg, runnerPath: BUNDLED_RUNNER, workspaceSource: p.workspace, ...extra });
    prepareSessionDirs(p, { uid: b.config.process.user.uid, gid: b.config.process.user.gid }, true);
    writeBundleConfig(p, b.config);
    started.push(uid);
    await agent.create(containerId(uid), p.bundle, p.log);
    await agent.start(containerId(uid));
    await waitForSocket(p.socket);
    const client = new RunnerClient(p.socket);
    return {
      uid,
      paths: p,
      bundle: b,
      client,
      async destroy() {
        client.close();
        await agent.delete(containerId(uid));
        removeSessionDir(p);
      },
    };
  }

  test('node-agent through the helper shell and through a fork of this process: same answers (missing ids, JSON errors, run --detach into the log)', async () => {
    for (const spawn of ['helper', 'direct'] as const) {
      const a = new NodeAgent({ binary: BUNDLED_NODE_AGENT, root: agentRoot(dataDir), spawn });
      try {
        assert.equal(await a.state('sk-missing'), undefined);
        const e = await a.kill('sk-missing').catch((x: unknown) => x);
        assert.ok(e instanceof NodeAgentError && e.notFound && e.command === 'kill', String(e));
        const s = session({}, `via-${spawn}`);
        const uid = s.metadata.uid!;
        const p = sessionPaths(dataDir, uid);
        const b = buildBundle({ dataDir, session: s, image: meta, config: config(), runnerPath: BUNDLED_RUNNER, workspaceSource: p.workspace });
        prepareSessionDirs(p, { uid: b.config.process.user.uid, gid: b.config.process.user.gid }, true);
        writeBundleConfig(p, b.config);
        started.push(uid);
        const { pid } = await a.runDetached(containerId(uid), p.bundle, p.log);
        assert.ok(pid > 1);
        const st = await a.state(containerId(uid));
        assert.equal(st?.status, 'running');
        assert.equal(st?.pid, pid);
        assert.equal(statSync(p.log).mode & 0o777, 0o600);
        await waitForSocket(p.socket);
        const c = new RunnerClient(p.socket);
        assert.equal((await c.exec('echo $((6 * 7))')).output.toString(), '42\n');
        c.close();
        await a.delete(containerId(uid));
        assert.equal(await a.state(containerId(uid)), undefined);
        removeSessionDir(p);
      } finally {
        a.close();
      }
    }
  });

  test('the sandbox: runner as PID 1, hostname, env, cwd, workspace, root writes land in the upper layer', async () => {
    const s = session({ env: [{ name: 'GREETING', value: 'hi there' }] }, 'my.box');
    const sb = await start(s);
    try {
      const st = await agent.state(containerId(sb.uid));
      assert.equal(st?.status, 'running');
      assert.equal(st?.annotations['session.sandkasten.dev/uid'], sb.uid);
      assert.equal(typeof st?.oomKills, 'number');
      const r = await sb.client.exec('echo "$(hostname) $GREETING $PWD $HOME"; cat /proc/1/cmdline | tr "\\0" " "; echo; id -u; echo x > /workspace/f; echo y > /root-file; grep -c . /proc/self/status >/dev/null && echo ok');
      assert.equal(r.exitCode, 0, r.output.toString());
      const lines = r.output.toString().trim().split('\n');
      assert.equal(lines[0], 'my-box hi there /workspace /root');
      assert.equal(lines[1]!.trim(), '/.sandkasten/runner --socket /run/sandkasten/runner.sock');
      assert.equal(lines[2], '0');
      assert.equal(readFileSync(join(sb.paths.workspace, 'f'), 'utf8'), 'x\n');
      assert.equal(readFileSync(join(sb.paths.upper, 'root-file'), 'utf8'), 'y\n');
      // No network but loopback; no capabilities; the runner cannot be overwritten.
      const n = await sb.client.exec('ls /sys/class/net | sort | tr "\\n" " "; echo; grep CapEff /proc/self/status; { echo z > /.sandkasten/runner; } 2>/dev/null || echo ro');
      assert.match(n.output.toString(), /^lo \nCapEff:\s+000000000000000a\nro\n$/);
    } finally {
      await sb.destroy();
    }
  });

  test('limits: from the config defaults, then from spec.resources, visible in the cgroup; live update', async () => {
    const sb = await start(session({ resources: { memory: '96Mi', cpu: '500m', pids: 64 } }));
    try {
      const cg = (h: string, f: string) => readFileSync(join('/sys/fs/cgroup', h, 'sandkasten', containerId(sb.uid), f), 'utf8').trim();
      assert.equal(cg('memory', 'memory.limit_in_bytes'), String(96 * 1024 * 1024));
      assert.equal(cg('memory', 'memory.memsw.limit_in_bytes'), String(96 * 1024 * 1024));
      assert.equal(cg('cpu', 'cpu.cfs_quota_us'), '50000');
      assert.equal(cg('pids', 'pids.max'), '64');
      await agent.update(containerId(sb.uid), { memory: 128 * 1024 * 1024, memorySwap: 128 * 1024 * 1024, pidsLimit: 100 });
      assert.equal(cg('memory', 'memory.limit_in_bytes'), String(128 * 1024 * 1024));
      assert.equal(cg('pids', 'pids.max'), '100');
    } finally {
      await sb.destroy();
    }
    const d = buildBundle({ dataDir, session: session(), image: meta, config: config(), runnerPath: BUNDLED_RUNNER, workspaceSource: '/nonexistent' });
    assert.deepEqual(d.config.linux.resources, { memory: { limit: 512 * 1024 * 1024, swap: 512 * 1024 * 1024 }, cpu: { quota: 100000, period: 100000 }, pids: { limit: 256 } });
  });

  for (const profile of ['mvp', 'strict'] as const) {
    test(`seccomp ${profile}: bash, python3 and node work; mount, unshare and namespaces are refused`, async () => {
      const cfg = config((c) => (c.security.seccomp = profile));
      const sb = await start(session(), {}, cfg);
      try {
        assert.equal(sb.bundle.fixed.seccomp, profile);
        const probes = [
          'echo bash=$((6*7))',
          'ls / >/dev/null && echo ls=ok',
          'test -x /bin/sh && echo access=ok',
          existsSync('/usr/bin/python3') ? `python3 -c 'import os, subprocess, threading; print("python=" + subprocess.run(["echo","ok"],capture_output=True,text=True).stdout.strip())'` : 'echo python=ok',
          `${process.execPath} -e 'require("child_process").execFileSync("true"); console.log("node=ok")'`,
          'unshare -n true 2>/dev/null && echo unshare=allowed || echo unshare=refused',
          'mkdir -p /tmp/m && mount -t tmpfs x /tmp/m 2>/dev/null && echo mount=allowed || echo mount=refused',
        ];
        const r = await sb.client.exec(probes.join('; '), { timeoutMs: 30_000 });
        const out = r.output.toString();
        for (const want of ['bash=42', 'ls=ok', 'access=ok', 'python=ok', 'node=ok', 'unshare=refused', 'mount=refused']) {
          assert.ok(out.includes(want), `${want} missing in:\n${out}`);
        }
      } finally {
        await sb.destroy();
      }
    });
  }

  test('OOM: a memory hog in the shell is killed, the runner and its shell survive; oomKills counts it', async () => {
    const sb = await start(session({ resources: { memory: '64Mi' } }));
    try {
      await sb.client.exec('export KEEP=me');
      const hog = await sb.client.exec(`${process.execPath} -e 'const a=[]; for(;;) a.push(Buffer.alloc(1<<20, 1))'; echo "status=$?"`, { timeoutMs: 60_000 });
      assert.match(hog.output.toString(), /status=137/);
      const st = await agent.state(containerId(sb.uid));
      assert.equal(st?.status, 'running');
      assert.ok((st?.oomKills ?? 0) >= 1, JSON.stringify(st));
      assert.equal((await sb.client.exec('echo $KEEP')).output.toString(), 'me\n');
    } finally {
      await sb.destroy();
    }
  });

  test('a stopped sandbox: state says stopped; node-agent errors are typed', async () => {
    const sb = await start(session());
    const st = await agent.state(containerId(sb.uid));
    process.kill(st!.pid, 'SIGKILL');
    const end = Date.now() + 5000;
    while ((await agent.state(containerId(sb.uid)))?.status !== 'stopped') {
      assert.ok(Date.now() < end, 'not stopped');
      await new Promise((r) => setTimeout(r, 20));
    }
    await sb.destroy();
    assert.equal(await agent.state(containerId(sb.uid)), undefined);
    await assert.rejects(agent.start(containerId(sb.uid)), (e: unknown) => e instanceof NodeAgentError && e.notFound && e.errno === 2);
    await agent.delete(containerId(sb.uid)); // unknown id with --force: fine
    await assert.rejects(agent.start('bad id!'), (e: unknown) => e instanceof NodeAgentError && /id/.test(e.message));
    // A bundle whose runner is missing fails at create, with node-agent's message.
    const s = session();
    const p = sessionPaths(dataDir, s.metadata.uid!);
    const b = buildBundle({ dataDir, session: s, image: meta, config: config(), runnerPath: '/nonexistent/runner', workspaceSource: p.workspace });
    prepareSessionDirs(p, { uid: 0, gid: 0 }, false);
    writeBundleConfig(p, b.config);
    started.push(s.metadata.uid!);
    await assert.rejects(agent.create(containerId(s.metadata.uid!), p.bundle, p.log), (e: unknown) => {
      assert.ok(e instanceof NodeAgentError);
      assert.equal(e.command, 'create');
      assert.match(e.message, /nonexistent/);
      return true;
    });
    assert.equal(await agent.state(containerId(s.metadata.uid!)), undefined);
    removeSessionDir(p);
  });

  test('buildBundle: refusals, defaults, fixed settings', () => {
    const base = { dataDir, image: meta, runnerPath: BUNDLED_RUNNER, workspaceSource: '/nonexistent' };
    const refuse = (s: Session, cfg: ResolvedConfig, reason: string, msg: RegExp) =>
      assert.throws(() => buildBundle({ ...base, session: s, config: cfg }), (e: unknown) => e instanceof BundleError && e.reason === reason && msg.test(e.message));
    refuse(session({ network: { mode: 'bridge' } }), config(), 'NetworkUnsupported', /bridge networking is not supported yet/);
    refuse(session(), config((c) => (c.defaults.network_mode = 'bridge')), 'NetworkUnsupported', /defaults\.network_mode/);
    refuse(session({ securityProfile: { seccomp: 'unconfined' } }), config(), 'SeccompRefused', /security\.seccomp is "mvp"/);
    refuse(session({ resources: { memory: '1Ki' } }), config(), 'InvalidResources', /at least 4Mi/);
    const off = buildBundle({ ...base, session: session({ securityProfile: { seccomp: 'unconfined' } }), config: config((c) => (c.security.seccomp = 'off')) });
    assert.equal(off.config.linux.seccomp, undefined);
    const noWs = config((c) => (c.workspace.enabled = false));
    refuse(session({ workspace: 'w' }), noWs, 'WorkspacesDisabled', /workspace\.enabled: false/);
    const host = buildBundle({ ...base, session: session({ network: { mode: 'host' }, hostname: 'h1', workingDir: '/tmp' }), config: noWs });
    assert.ok(!host.config.linux.namespaces.some((n) => n.type === 'network'));
    assert.equal(host.config.hostname, 'h1');
    assert.equal(host.config.process.cwd, '/tmp');
    assert.ok(!host.config.mounts.some((m) => m.destination === '/workspace'));
    assert.deepEqual(host.config.process.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 }]);
    // Root in the sandbox owns its files, nothing more.
    assert.deepEqual(host.config.process.capabilities.bounding, ['CAP_DAC_OVERRIDE', 'CAP_FOWNER']);
    assert.deepEqual(host.config.process.capabilities.ambient, []);
    assert.equal(host.config.process.noNewPrivileges, true);
    const a = fixedSettingsOf(host.config)!;
    const other = buildBundle({ ...base, session: session({ image: 'other', network: { mode: 'none' }, hostname: 'h1', workingDir: '/tmp' }), config: noWs });
    assert.deepEqual(changedSettings(a, other.fixed), ['image', 'network']);
    const ws = buildBundle({ ...base, session: session({ workspace: { name: 'w', mountPath: '/data' } }), config: config() });
    assert.deepEqual(ws.fixed.workspace, { name: 'w', mountPath: '/data' });
    assert.ok(ws.config.mounts.some((m) => m.destination === '/data' && m.source === '/nonexistent' && m.options?.includes('nosuid')));
    assert.equal(ws.config.process.cwd, '/workspace'); // the image's workingDir
    // The written bundle reads back.
    const s = session();
    const p = sessionPaths(dataDir, s.metadata.uid!);
    prepareSessionDirs(p, { uid: 0, gid: 0 }, false);
    writeBundleConfig(p, host.config);
    assert.deepEqual(readBundleConfig(p), host.config);
    removeSessionDir(p);
    assert.equal(readBundleConfig(p), undefined);
  });
});
