// Runs node-agent's seccomp test driver (node-agent/tests/seccomp_test.c): every profile is
// compiled to BPF, loaded into a forked child, and the child's syscalls show what the kernel did.
// Each TAP line of the driver becomes one subtest here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { repoRoot } from './lib/bundle.js';
import { buildDriver, parseTap } from './lib/tap.js';

const repo = repoRoot;
const driver = 'build/tests/seccomp_test';


const isRoot = process.getuid?.() === 0;

test('seccomp compiler (C driver)', { skip: isRoot ? false : 'needs root' }, async (t) => {
  buildDriver(driver);
  const r = spawnSync(`node-agent/${driver}`, { cwd: repo, encoding: 'utf8', timeout: 120_000 });
  const { lines, plan } = parseTap(r.stdout);
  assert.equal(plan, lines.length, `the driver ended early:\n${r.stdout}\n${r.stderr}`);
  // The cases this suite exists for must be present, not silently dropped.
  const names = lines.map((l) => l.name);
  for (const must of [
    "denied syscall returns the rule's errno",
    '64-bit NE/LT/LE/EQ/GE/GT compare both halves',
    'MASKED_EQ masks and compares both halves',
    'KILL_PROCESS kills with SIGSYS',
    'x32 syscall is killed when x32 is not listed (no bypass)',
    'i386 syscall (int 0x80) is killed when x86 is not listed',
    'long profile: first and last conditional rules match (far jumps)',
    'a profile over 4096 instructions is a clear error',
  ]) {
    assert.ok(names.includes(must), `missing case: ${must}`);
  }
  for (const l of lines) {
    await t.test(l.name, { skip: l.skip ?? false }, () => {
      assert.ok(l.ok, l.detail ?? 'failed');
    });
  }
  assert.equal(r.status, 0, r.stderr);
});
