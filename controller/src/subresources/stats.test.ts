// Stats from cgroups: mountinfo parsing for v1, v2, hybrid and namespaced layouts; v2 and v1 file
// formats over fake hierarchies; and GET …/stats over HTTP for a real cgroup made on this host.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseMountinfo, readCgroupStats } from './stats.js';
import { isRoot, json, startHarness, type Harness } from './testutil.js';

const HYBRID = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw`;

describe('parseMountinfo', () => {
  test('hybrid v1: one hierarchy per controller, cpu and cpuacct apart, the cgroup2 mount too', () => {
    const l = parseMountinfo(HYBRID);
    assert.equal(l.v1.get('cpu')?.mountPoint, '/sys/fs/cgroup/cpu');
    assert.equal(l.v1.get('cpuacct')?.mountPoint, '/sys/fs/cgroup/cpuacct');
    assert.equal(l.v1.get('memory')?.mountPoint, '/sys/fs/cgroup/memory');
    assert.equal(l.v1.has('rw'), false);
    assert.equal(l.v2?.mountPoint, '/sys/fs/cgroup/unified');
  });
  test('co-mounted controllers, a namespaced root, escaped mount points, pure v2', () => {
    const l = parseMountinfo('32 31 0:29 /outer /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n50 1 0:9 / /mnt/with\\040space rw - cgroup cgroup rw,pids');
    assert.equal(l.v1.get('cpu'), l.v1.get('cpuacct'));
    assert.equal(l.v1.get('cpu')?.root, '/outer');
    assert.equal(l.v1.get('pids')?.mountPoint, '/mnt/with space');
    const v2 = parseMountinfo('29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate');
    assert.equal(v2.v1.size, 0);
    assert.equal(v2.v2?.mountPoint, '/sys/fs/cgroup');
  });
});

describe('readCgroupStats over fake hierarchies', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'sk-cgfake-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const files = (base: string, f: Record<string, string>) => {
    mkdirSync(base, { recursive: true });
    for (const [k, v] of Object.entries(f)) writeFileSync(join(base, k), v);
  };

  test('v2: cpu.stat, cpu.max, memory.current/max/events, pids; "max" is null', () => {
    const root = join(dir, 'v2');
    files(join(root, 'sandkasten/sk-a'), {
      'cgroup.controllers': 'cpu memory pids',
      'cpu.stat': 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n',
      'cpu.max': '150000 100000\n',
      'memory.current': '4096\n',
      'memory.max': 'max\n',
      'memory.events': 'low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n',
      'pids.current': '3\n',
      'pids.max': '256\n',
    });
    const s = readCgroupStats('/sandkasten/sk-a', { mountinfo: `29 23 0:26 / ${root} rw - cgroup2 cgroup2 rw` });
    assert.deepEqual({ ...s, timestamp: undefined }, {
      timestamp: undefined,
      cgroup: { path: '/sandkasten/sk-a', version: 'v2' },
      cpu: { usageNanoseconds: 1_500_000, limitCores: 1.5 },
      memory: { usageBytes: 4096, limitBytes: null, oomKills: 1 },
      pids: { current: 3, limit: 256 },
    });
    assert.ok(Math.abs(Date.parse(s.timestamp) - Date.now()) < 5000);
  });

  test('v1 inside a cgroup namespace root; unlimited values as null; missing cgroup throws', () => {
    const m = join(dir, 'v1mem');
    const c = join(dir, 'v1cpu');
    const p = join(dir, 'v1pids');
    files(join(m, 'sk-b'), { 'memory.usage_in_bytes': '1000', 'memory.limit_in_bytes': '9223372036854771712', 'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n' });
    files(join(c, 'sk-b'), { 'cpuacct.usage': '123456789', 'cpu.cfs_quota_us': '-1', 'cpu.cfs_period_us': '100000' });
    files(join(p, 'sk-b'), { 'pids.current': '1', 'pids.max': 'max' });
    const mi = [
      `1 0 0:1 /ns ${m} rw - cgroup cgroup rw,memory`,
      `2 0 0:2 /ns ${c} rw - cgroup cgroup rw,cpu,cpuacct`,
      `3 0 0:3 /ns ${p} rw - cgroup cgroup rw,pids`,
    ].join('\n');
    const s = readCgroupStats('/ns/sk-b', { mountinfo: mi });
    assert.equal(s.cgroup.version, 'v1');
    assert.deepEqual(s.cpu, { usageNanoseconds: 123456789, limitCores: null });
    assert.deepEqual(s.memory, { usageBytes: 1000, limitBytes: null, oomKills: 0 });
    assert.deepEqual(s.pids, { current: 1, limit: null });
    assert.throws(() => readCgroupStats('/ns/nope', { mountinfo: mi }), /does not exist/);
  });
});

/** A real cgroup with limits and a busy process in it, in whichever hierarchies carry the controllers. */
function makeCgroup(name: string): { dirs: string[]; proc: ChildProcess } {
  const layout = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
  // It burns some cpu once it is in the cgroup (a line on stdin says so), then sleeps.
  const proc = spawn('sh', ['-c', 'read go; i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done; exec sleep 60'], { stdio: ['pipe', 'ignore', 'ignore'] });
  const dirs: string[] = [];
  const v2 = layout.v2 ? join(layout.v2.mountPoint, name) : undefined;
  const set = (dir: string, file: string, value: string) => writeFileSync(join(dir, file), value);
  const v1dir = (c: string) => {
    const h = layout.v1.get(c);
    if (!h) return undefined;
    const d = join(h.mountPoint, name);
    if (!dirs.includes(d)) {
      mkdirSync(d);
      dirs.push(d);
      set(d, 'cgroup.procs', String(proc.pid));
    }
    return d;
  };
  const mem = v1dir('memory');
  const cpu = v1dir('cpu');
  v1dir('cpuacct');
  const pids = v1dir('pids');
  if (mem) set(mem, 'memory.limit_in_bytes', String(64 * 1024 * 1024));
  if (cpu) {
    set(cpu, 'cpu.cfs_period_us', '100000');
    set(cpu, 'cpu.cfs_quota_us', '50000');
  }
  if (pids) set(pids, 'pids.max', '32');
  if (!mem && v2) {
    mkdirSync(v2);
    dirs.push(v2);
    set(v2, 'cgroup.procs', String(proc.pid));
    set(v2, 'memory.max', String(64 * 1024 * 1024));
    set(v2, 'cpu.max', '50000 100000');
    set(v2, 'pids.max', '32');
  }
  proc.stdin!.write('go\n');
  return { dirs, proc };
}

describe('GET …/stats', { skip: !isRoot && 'needs root (cgroups, the runner)', timeout: 30_000 }, () => {
  let h: Harness;
  let cg: { dirs: string[]; proc: ChildProcess };
  const name = `sk-subres-stats-${process.pid}`;
  before(async () => {
    h = await startHarness();
    await h.session('s');
    cg = makeCgroup(name);
    await new Promise((r) => setTimeout(r, 200));
  });
  after(async () => {
    cg?.proc.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 100));
    for (const d of cg?.dirs ?? []) rmdirSync(d);
    await h?.close();
  });

  test('cpu, memory and pids of the sandbox\'s cgroup with its limits', async () => {
    h.location.cgroup = `/${name}`;
    const r = await h.fetch(h.sub('s', 'stats'));
    const s = await json(r);
    assert.equal(r.status, 200, s.message);
    assert.equal(s.cgroup.path, `/${name}`);
    assert.ok(s.cpu.usageNanoseconds > 0, `cpu ${s.cpu.usageNanoseconds}`);
    assert.equal(s.cpu.limitCores, 0.5);
    assert.ok(s.memory.usageBytes > 0);
    assert.equal(s.memory.limitBytes, 64 * 1024 * 1024);
    assert.equal(s.pids.current, 1);
    assert.equal(s.pids.limit, 32);
    assert.ok(Math.abs(Date.parse(s.timestamp) - Date.now()) < 5000);
  });

  test('a sandbox whose cgroup is gone: 503', async () => {
    h.location.cgroup = '/sk-subres-no-such-cgroup';
    const r = await h.fetch(h.sub('s', 'stats'));
    assert.equal(r.status, 503);
    assert.equal((await json(r)).reason, 'ServiceUnavailable');
  });
});
