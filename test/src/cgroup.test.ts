// Runs node-agent's cgroup test driver (node-agent/tests/cgroup_test.c) against this host's real
// cgroups: v1/hybrid mode with enforced limits (pids, memory/OOM, cpu), live update, kill and
// destroy; v2 mode rooted at SK_CGROUP_ROOT_V2 (the hybrid cgroup2 mount here). Each TAP line of
// the driver becomes one subtest here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { repoRoot } from './lib/bundle.js';
import { buildDriver, parseTap } from './lib/tap.js';

const repo = repoRoot;
const driver = 'build/tests/cgroup_test';


const isRoot = process.getuid?.() === 0;

async function runDriver(t: import('node:test').TestContext, mode: 'v1' | 'v2', must: string[]): Promise<void> {
  buildDriver(driver);
  const r = spawnSync(`node-agent/${driver}`, [mode], { cwd: repo, encoding: 'utf8', timeout: 120_000 });
  const { lines, plan } = parseTap(r.stdout);
  assert.equal(plan, lines.length, `the driver ended early:\n${r.stdout}\n${r.stderr}`);
  const skippedAll = lines.length === 1 && lines[0]?.skip !== undefined;
  if (!skippedAll) {
    // The cases this suite exists for must be present, not silently dropped.
    const names = lines.map((l) => l.name);
    for (const m of must) assert.ok(names.includes(m), `missing case: ${m}`);
  }
  for (const l of lines) {
    await t.test(l.name, { skip: l.skip ?? false }, () => {
      assert.ok(l.ok, l.detail ?? 'failed');
    });
  }
  assert.equal(r.status, 0, r.stderr);
}

test('cgroups v1/hybrid (C driver)', { skip: isRoot ? false : 'needs root' }, async (t) => {
  await runDriver(t, 'v1', [
    'v1: process placed in every hierarchy',
    'v1: pids.max=16 stops a fork loop after 15 forks (EAGAIN)',
    'v1: memory hog is OOM-killed inside the cgroup',
    "v1: the hog's parent in the cgroup survives",
    'v1: cgroup_oom_killed reports the kill',
    'v1: cpu quota 20000/100000 holds a spinner near 20%',
    'v1: update changes pids.max, memory (memsw follows) and cpu quota live',
    'v1: destroy removes the directory in every hierarchy',
  ]);
});

test('cgroups v2 mode (C driver)', { skip: isRoot ? false : 'needs root' }, async (t) => {
  await runDriver(t, 'v2', [
    'v2: create places the process',
    'v2: kill_all(SIGKILL) via cgroup.kill',
    'v2: destroy kills and removes the cgroup',
  ]);
});
