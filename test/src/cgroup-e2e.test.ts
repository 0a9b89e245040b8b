// cgroup limits through the real node-agent CLI, as root, with real sandboxes: a fork loop stops
// at pids.limit, a memory hog is OOM-killed inside the sandbox while the sandbox's PID 1 and
// node-agent live on, `update` changes limits of a running sandbox (files and behaviour), and
// v2 mode (SK_CGROUP_ROOT_V2) places sandboxes in the unified hierarchy and refuses limits whose
// controller it lacks.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildNodeAgent, cleanupStateRoot, containerState, errorLine, isRoot, listCgroupTree, makeBundle, makeRootfs, nodeAgent, nodeAgentOk,
  removeCgroupTree, uniqueId, type Bundle, type BundleOptions,
} from './lib/bundle.js';

const skip = isRoot ? false : 'needs root';
const MiB = 1024 * 1024;
const CGROUP2_SUPER_MAGIC = 0x63677270;
let rootfs = '';
const bundles: Bundle[] = [];
/** One cgroup parent for this file, so nothing it makes can be confused with anything else. */
const parent = uniqueId('sk-cgroup-e2e');

function bundle(opts: BundleOptions): Bundle {
  const b = makeBundle({ rootfs, readonlyRoot: true, ...opts });
  bundles.push(b);
  return b;
}

/** Runs fn with a started sandbox in its own cgroup (/<parent>/<id>), then deletes it. */
function withSandbox(opts: BundleOptions, fn: (id: string, cgroup: string, b: Bundle) => void, env?: NodeJS.ProcessEnv): void {
  const id = uniqueId('cg');
  const cgroup = `/${parent}/${id}`;
  const b = bundle({ args: ['/bin/tail', '-f', '/dev/null'], cgroupsPath: cgroup, ...opts });
  const o = env ? { env } : {};
  nodeAgentOk(['run', '--detach', '--bundle', b.dir, id], o);
  try {
    fn(id, cgroup, b);
  } finally {
    nodeAgent(['delete', '--force', id], o);
  }
}

const hostV1 = isRoot && statfsSync('/sys/fs/cgroup').type !== CGROUP2_SUPER_MAGIC;

/** A cgroup file by its v1 controller and name, or its v2 name on a unified host. */
function cgFile(controller: string, cgroup: string, v1: string, v2: string): string {
  return readFileSync(hostV1 ? join('/sys/fs/cgroup', controller, cgroup, v1) : join('/sys/fs/cgroup', cgroup, v2), 'utf8').trim();
}

/** Runs a fork loop inside the sandbox with exec: forks sleepers until fork fails; returns how many. */
function forkLoop(id: string): { forks: number; stderr: string } {
  const r = nodeAgent(['exec', id, '--', '/bin/sh', '-c', 'i=0; while [ $i -lt 200 ]; do sleep 1000 & i=$((i+1)); echo $i; done']);
  const lines = r.stdout.trim().split('\n').filter(Boolean);
  return { forks: lines.length === 0 ? 0 : Number(lines[lines.length - 1]), stderr: r.stderr };
}

before(() => {
  if (!isRoot) return;
  buildNodeAgent();
  rootfs = makeRootfs();
});

after(() => {
  if (!isRoot) return;
  cleanupStateRoot();
  for (const b of bundles) b.cleanup();
  rmSync(rootfs, { recursive: true, force: true });
  removeCgroupTree(parent);
});

describe('cgroup limits in real sandboxes', { skip }, () => {
  test('a fork loop stops at pids.limit; without the limit it runs to the end', () => {
    const script = 'i=0; while [ $i -lt 60 ]; do sleep 1000 & i=$((i+1)); echo $i; done; echo done';
    const limited = bundle({ args: ['/bin/sh', '-c', script], resources: { pids: { limit: 20 } }, cgroupsPath: `/${parent}/${uniqueId('fork')}` });
    const r = nodeAgent(['run', '--bundle', limited.dir, uniqueId('fork')]);
    const counts = r.stdout.trim().split('\n');
    // sh is PID 1 and counts too: 19 sleepers fit, the 20th fork fails and sh gives up.
    assert.equal(counts[counts.length - 1], '19', r.stdout + r.stderr);
    assert.match(r.stderr, /can't fork|Resource temporarily unavailable/);
    assert.notEqual(r.status, 0);

    const free = bundle({ args: ['/bin/sh', '-c', script], resources: { pids: { limit: 100 } }, cgroupsPath: `/${parent}/${uniqueId('fork')}` });
    const ok = nodeAgent(['run', '--bundle', free.dir, uniqueId('fork')]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^60\ndone\n$/m);
  });

  test('a memory hog is OOM-killed inside the sandbox; PID 1 and node-agent live on', () => {
    withSandbox({ resources: { memory: { limit: 32 * MiB, swap: 32 * MiB } } }, (id, cgroup) => {
      // dd's 64 MiB buffer cannot fit: the kernel's OOM killer picks dd, the biggest task inside.
      const r = nodeAgent(['exec', id, '--', '/bin/sh', '-c', 'dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo hog=$?']);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, 'hog=137\n');
      assert.equal(containerState(id).status, 'running');
      assert.match(cgFile('memory', cgroup, 'memory.oom_control', 'memory.events'), /^oom_kill [1-9]/m);
      // The sandbox still works after it.
      assert.equal(nodeAgentOk(['exec', id, '--', '/bin/echo', 'still here']).stdout, 'still here\n');
    });
  });

  test('a hog in the foreground process is killed and reported; run itself survives', () => {
    const b = bundle({
      args: ['/bin/sh', '-c', 'dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo hog=$?'],
      resources: { memory: { limit: 32 * MiB, swap: 32 * MiB } }, cgroupsPath: `/${parent}/${uniqueId('oomrun')}`,
    });
    const r = nodeAgent(['run', '--bundle', b.dir, uniqueId('oomrun')]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'hog=137\n');
  });

  test('update changes pids and memory limits of a running sandbox: files and behaviour', () => {
    withSandbox({ resources: { pids: { limit: 8 }, memory: { limit: 32 * MiB, swap: 32 * MiB } } }, (id, cgroup) => {
      assert.equal(cgFile('pids', cgroup, 'pids.max', 'pids.max'), '8');
      const hog = 'dd if=/dev/zero of=/dev/null bs=48M count=1 2>/dev/null; echo hog=$?';
      assert.equal(nodeAgent(['exec', id, '--', '/bin/sh', '-c', hog]).stdout, 'hog=137\n', '48 MiB over a 32 MiB limit');
      const first = forkLoop(id);
      assert.ok(first.forks > 0 && first.forks < 8, `forks under pids.max=8: ${first.forks}`);

      nodeAgentOk(['update', '--pids-limit', '20', '--memory', '128m', '--memory-swap', '128m', id]);
      assert.equal(cgFile('pids', cgroup, 'pids.max', 'pids.max'), '20');
      assert.equal(cgFile('memory', cgroup, 'memory.limit_in_bytes', 'memory.max'), String(128 * MiB));
      // The sleepers of the first loop are still there: exactly 12 more pids are free now.
      const second = forkLoop(id);
      assert.equal(second.forks, 12, second.stderr);

      nodeAgentOk(['update', '--pids-limit', '-1', id]);
      assert.equal(cgFile('pids', cgroup, 'pids.max', 'pids.max'), 'max');
      // 48 MiB fits under 128 MiB; then the limit goes back down, live.
      assert.equal(nodeAgent(['exec', id, '--', '/bin/sh', '-c', hog]).stdout, 'hog=0\n');
      nodeAgentOk(['update', '--memory', '32m', '--memory-swap', '32m', id]);
      assert.equal(nodeAgent(['exec', id, '--', '/bin/sh', '-c', hog]).stdout, 'hog=137\n');
    });
  });

  test('update reads -r resources.json, refuses bad input and unknown sandboxes', () => {
    withSandbox({ resources: { pids: { limit: 30 } } }, (id, cgroup, b) => {
      const file = join(b.dir, 'resources.json');
      writeFileSync(file, JSON.stringify({ pids: { limit: 25 }, cpu: { quota: 20000, period: 100000 } }));
      nodeAgentOk(['update', '-r', file, id]);
      assert.equal(cgFile('pids', cgroup, 'pids.max', 'pids.max'), '25');
      assert.equal(cgFile('cpu', cgroup, 'cpu.cfs_quota_us', 'cpu.max'), hostV1 ? '20000' : '20000 100000');

      const cases: [string[], RegExp][] = [
        [['update', '--memory', '12x', id], /`--memory` wants a byte count/],
        [['update', id], /nothing to update/],
        [['update', '--pids-limit', '5', 'no-such-sandbox'], /does not exist/],
        [['update', '--cpu-quota', '10', id], /quota 10 µs must be -1 \(unlimited\) or at least 1000/],
        [['update', '--memory', '64m', '--memory-swap', '32m', id], /at least the memory limit/],
      ];
      for (const [args, re] of cases) {
        const r = nodeAgent(args, { json: true });
        assert.equal(r.status, 1, args.join(' '));
        assert.match(errorLine(r.stderr).msg, re);
      }
      writeFileSync(file, JSON.stringify({ blockIO: { weight: 10 } }));
      const r = nodeAgent(['update', '-r', file, id], { json: true });
      assert.match(errorLine(r.stderr).msg, /unsupported field `resources.blockIO`/);
    });
  });

  test('no sandbox cgroup is left in any hierarchy', () => {
    // Every sandbox above was deleted (or ran in the foreground): only the parents remain.
    assert.deepEqual(listCgroupTree(parent), []);
  });
});

describe('cgroup v2 mode on a hybrid host (SK_CGROUP_ROOT_V2)', { skip: skip || (!hostV1 ? 'the host is v2 already' : false) }, () => {
  const unified = '/sys/fs/cgroup/unified';
  const env = (): NodeJS.ProcessEnv => ({ ...process.env, SK_CGROUP_ROOT_V2: unified });

  test('a sandbox lives in the unified hierarchy and is removed from it', () => {
    let where = '';
    withSandbox({}, (id, cgroup) => {
      where = join(unified, cgroup);
      const pid = containerState(id, { env: env() }).pid;
      assert.equal(readFileSync(join(where, 'cgroup.procs'), 'utf8').trim(), String(pid));
      assert.match(readFileSync(join(where, 'cgroup.events'), 'utf8'), /populated 1/);
      // Only there: no v1 hierarchy has it.
      assert.equal(existsSync(join('/sys/fs/cgroup/memory', cgroup)), false);
    }, env());
    assert.equal(existsSync(where), false);
  });

  test('a limit whose controller the hierarchy lacks is refused, naming the controller', () => {
    const avail = readFileSync(join(unified, 'cgroup.controllers'), 'utf8');
    for (const [controller, resources] of [['pids', { pids: { limit: 10 } }], ['memory', { memory: { limit: 64 * MiB } }]] as const) {
      if (avail.split(/\s+/).includes(controller)) continue;
      const id = uniqueId('v2lim');
      const b = bundle({ args: ['/bin/true'], resources, cgroupsPath: `/${parent}/${id}` });
      const r = nodeAgent(['run', '--bundle', b.dir, id], { json: true, env: env() });
      assert.equal(r.status, 1);
      assert.match(errorLine(r.stderr).msg, new RegExp(`controller \`${controller}\` is not available`));
      assert.equal(existsSync(join(unified, parent, id)), false);
      nodeAgent(['delete', '--force', id], { env: env() });
    }
  });
});
