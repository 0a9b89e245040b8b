// End to end through the real daemon (the sandkasten binary in a child process) with real
// Sessions: a manifest becomes a sandbox, and exec, fs, tar, stats and attach work on it over HTTP
// and WebSocket; paths resolve inside the sandbox; deleting the session ends access.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Session } from '@sandkasten/api-schemas';
import { startDaemon, tempDir, removeDir, type Daemon } from '../bin/testutil.js';
import { BUNDLED_NODE_AGENT, BUNDLED_RUNNER } from '../config/index.js';
import { cleanupAgentRoot } from '../controllers/session-testutil.js';
import { agentRoot, NodeAgent, sessionPaths } from '../sandbox/index.js';
import { isRoot, json, Term } from './testutil.js';

const skip = !isRoot ? 'needs root' : !existsSync(BUNDLED_NODE_AGENT) || !existsSync(BUNDLED_RUNNER) ? 'node-agent/runner not built' : false;
const KEY = 'e2e-key';
const auth = { authorization: `Bearer ${KEY}` };

describe('subresources end to end (daemon, real sessions)', { skip, timeout: 120_000 }, () => {
  let d: Daemon;
  let dir: string;
  const sessions = () => `${d.url}/apis/sandkasten.dev/v1/namespaces/default/sessions`;
  const sub = (name: string, s: string, q?: Record<string, string>) => `${sessions()}/${name}/${s}${q ? `?${new URLSearchParams(q).toString()}` : ''}`;
  const call = (url: string, init: RequestInit = {}) => fetch(url, { ...init, headers: { ...auth, ...(init.headers as Record<string, string>) } });
  const exec = async (name: string, command: string) => {
    const r = await call(sub(name, 'exec'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ command }) });
    const b = await json(r);
    assert.equal(r.status, 200, b.message);
    return b as { output: string; exitCode: number; cwd: string };
  };
  const getSession = async (name: string): Promise<Session | undefined> => {
    const r = await call(`${sessions()}/${name}`);
    return r.status === 200 ? ((await r.json()) as Session) : (await r.text(), undefined);
  };
  const waitFor = async (name: string, pred: (s: Session | undefined) => boolean, what: string, ms = 20_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const s = await getSession(name);
      if (pred(s)) return s;
      if (Date.now() > end) throw new Error(`${name}: timed out waiting for ${what}: ${JSON.stringify(s?.status)}\n${d.output().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const create = async (name: string, spec: Session['spec'] = {}) => {
    const r = await call(sessions(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name }, spec }) });
    assert.equal(r.status, 201, await r.text());
  };

  before(async () => {
    dir = tempDir('sk-subres-e2e-');
    d = await startDaemon({ dir, config: `listen: "127.0.0.1:0"\napi_key: "${KEY}"\ndata_dir: "${join(dir, 'data')}"\nmax_upload_bytes: 134217728\n` });
    await create('box');
    await waitFor('box', (s) => s?.status?.phase === 'Ready', 'Ready');
  });
  after(async () => {
    if (d) {
      for (const name of ['box', 'broken']) await call(`${sessions()}/${name}`, { method: 'DELETE' }).then((r) => r.text());
      await waitFor('box', (s) => s === undefined, 'deletion').catch(() => {});
      await d.stop();
      await cleanupAgentRoot(new NodeAgent({ binary: BUNDLED_NODE_AGENT, root: agentRoot(join(dir, 'data')) }));
    }
    if (dir) removeDir(dir);
  });

  test('exec: the persistent shell of the sandbox, JSON and streamed', async () => {
    let r = await exec('box', 'cd /workspace && export X=42 && hostname');
    assert.equal(r.output, 'box\n');
    assert.equal(r.cwd, '/workspace');
    r = await exec('box', 'echo $X $PWD; id -u');
    assert.equal(r.output, '42 /workspace\n0\n');
    const t0 = performance.now();
    const s = await call(sub('box', 'exec', { stream: '1' }), { method: 'POST', body: JSON.stringify({ command: 'echo a; sleep 0.4; echo b' }) });
    const reader = (s.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    assert.ok(performance.now() - t0 < 300, `first line after ${(performance.now() - t0).toFixed(0)} ms`);
    assert.deepEqual(JSON.parse(Buffer.from(first.value!).toString().split('\n')[0]!), { type: 'output', data: 'a\n' });
    let rest = '';
    for (;;) {
      const c = await reader.read();
      if (c.done) break;
      rest += Buffer.from(c.value).toString();
    }
    assert.match(rest, /"type":"result","exitCode":0/);
  });

  test('fs: binary round trip, visible to the shell; paths resolve in the sandbox, not on the host', async () => {
    const data = randomBytes(1024 * 1024);
    let r = await call(sub('box', 'fs', { path: '/workspace/in/blob.bin' }), { method: 'PUT', body: data });
    assert.equal(r.status, 200, await r.text());
    assert.equal((await exec('box', 'wc -c < /workspace/in/blob.bin')).output.trim(), String(data.length));
    r = await call(sub('box', 'fs', { path: '/workspace/in/blob.bin' }));
    assert.deepEqual(Buffer.from(await r.arrayBuffer()), data);
    // The sandbox's /etc/passwd (generated), whatever the host's says.
    const inside = (await exec('box', 'cat /etc/passwd')).output;
    r = await call(sub('box', 'fs', { path: '../../../../etc/passwd' }));
    assert.equal(await r.text(), inside);
    // Writes outside /workspace go to the session's overlay, not the image or the host.
    await call(sub('box', 'fs', { path: '/etc/made-here' }), { method: 'PUT', body: 'x' }).then((x) => x.text());
    assert.equal((await exec('box', 'cat /etc/made-here')).output, 'x');
    assert.equal(existsSync('/etc/made-here'), false);
  });

  test('tar: upload a directory, the shell sees it; download it back', async () => {
    const src = join(dir, 'src');
    mkdirSync(join(src, 'pkg/lib'), { recursive: true });
    writeFileSync(join(src, 'pkg/main.sh'), 'echo from-tar\n');
    writeFileSync(join(src, 'pkg/lib/util.txt'), 'util\n');
    const archive = spawnSync('tar', ['-C', src, '-cf', '-', 'pkg']).stdout;
    let r = await call(sub('box', 'fs', { path: '/workspace/proj', format: 'tar' }), { method: 'PUT', body: archive, headers: { 'content-type': 'application/x-tar' } });
    const b = await json(r);
    assert.equal(r.status, 200, b.message);
    assert.equal(b.files, 2);
    assert.equal((await exec('box', 'sh /workspace/proj/pkg/main.sh; cat /workspace/proj/pkg/lib/util.txt')).output, 'from-tar\nutil\n');
    r = await call(sub('box', 'fs', { path: '/workspace/proj', format: 'tar' }));
    const listing = spawnSync('tar', ['-tf', '-'], { input: Buffer.from(await r.arrayBuffer()) }).stdout.toString().trim().split('\n').sort();
    assert.deepEqual(listing, ['pkg/', 'pkg/lib/', 'pkg/lib/util.txt', 'pkg/main.sh']);
  });

  test('stats: the sandbox cgroup with the configured limits', async () => {
    await exec('box', 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done');
    const r = await call(sub('box', 'stats'));
    const s = await json(r);
    assert.equal(r.status, 200, s.message);
    const box = await getSession('box');
    assert.equal(s.cgroup.path, box!.status!.sandbox!.cgroup);
    assert.ok(s.cpu.usageNanoseconds > 1e6, `cpu ${s.cpu.usageNanoseconds}`);
    assert.equal(s.cpu.limitCores, 1);
    assert.ok(s.memory.usageBytes > 0);
    assert.equal(s.memory.limitBytes, 512 * 1024 * 1024);
    assert.ok(s.pids.current >= 2, `pids ${s.pids.current}`);
    assert.equal(s.pids.limit, 256);
  });

  test('attach: a login shell in the sandbox with job control; closing the socket ends it', async () => {
    const t = await Term.open(sub('box', 'attach', { cols: '100', rows: '30' }), { headers: auth });
    t.send('echo $((6*7)) $(hostname); stty size; echo pid=$$\r');
    await t.waitFor(/42 box/);
    await t.waitFor(/30 100/);
    const pid = Number((await t.waitFor(/pid=(\d+)/))[1]);
    t.control({ type: 'resize', cols: 132, rows: 43 });
    let mark = t.out.length;
    t.send('stty size\r');
    await t.waitFor(/43 132/, 5000, mark);
    // Ctrl-C reaches the foreground job, not the shell.
    t.send('sleep 30\r');
    await new Promise((r) => setTimeout(r, 300));
    t.send('\x03');
    mark = t.out.length;
    t.send('echo rc=$?\r');
    await t.waitFor(/rc=130/, 5000, mark);
    // The shell runs in the sandbox's pid namespace: the runner's exec sees it.
    assert.equal((await exec('box', `kill -0 ${pid} && echo alive`)).output, 'alive\n');
    t.ws.close();
    await t.closed;
    const end = Date.now() + 5000;
    let gone = false;
    while (!gone && Date.now() < end) {
      gone = (await exec('box', `kill -0 ${pid} 2>/dev/null || echo gone`)).output === 'gone\n';
      if (!gone) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(gone, 'the terminal shell ended after the socket closed');
  });

  test('activity: calls move status.lastActivityTime forward', async () => {
    const before = Date.parse((await getSession('box'))!.status!.lastActivityTime ?? '1970-01-01T00:00:00Z');
    await new Promise((r) => setTimeout(r, 1100));
    await exec('box', 'true');
    const s = await waitFor('box', (x) => Date.parse(x?.status?.lastActivityTime ?? '') > before, 'lastActivityTime to move', 5000);
    assert.ok(Math.abs(Date.parse(s!.status!.lastActivityTime!) - Date.now()) < 3000);
  });

  test('activity: stats with activity=false (a monitor) leaves status.lastActivityTime alone', async () => {
    await new Promise((r) => setTimeout(r, 1100)); // past the one-write-per-second throttle
    const before = (await getSession('box'))!.status!.lastActivityTime;
    for (let i = 0; i < 3; i++) assert.equal((await call(`${sub('box', 'stats')}?activity=false`)).status, 200);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await getSession('box'))!.status!.lastActivityTime, before);
    assert.equal((await call(sub('box', 'stats'))).status, 200);
    await waitFor('box', (x) => x?.status?.lastActivityTime !== before, 'a plain stats read to count as activity', 5000);
  });

  test('a session that cannot become Ready: 409 with its phase; a deleted one: 404', async () => {
    await create('broken', { image: 'no-such-image' });
    await waitFor('broken', (s) => s?.status?.phase !== undefined, 'a phase');
    const r = await call(sub('broken', 'exec'), { method: 'POST', body: '{"command":"true"}' });
    const st = await json(r);
    assert.equal(r.status, 409);
    assert.match(st.message, /^session broken is (Pending|Starting|Failed)/);
    const box = await getSession('box');
    const paths = sessionPaths(join(dir, 'data'), box!.metadata.uid!);
    assert.ok(existsSync(paths.socket));
    await call(`${sessions()}/box`, { method: 'DELETE' }).then((x) => x.text());
    await waitFor('box', (s) => s === undefined, 'deletion');
    const gone = await call(sub('box', 'fs', { path: '/' }));
    assert.equal(gone.status, 404);
    assert.equal((await json(gone)).reason, 'NotFound');
    assert.equal(existsSync(paths.dir), false);
    assert.ok(readFileSync('/proc/self/mountinfo', 'utf8').indexOf(box!.metadata.uid!) < 0, 'no mount left');
  });
});
