// `sandkasten doctor` as a user runs it: the real binary on this host.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { BIN, removeDir, tempDir } from '../bin/testutil.js';
import type { DoctorReport } from './checks.js';

/** The binary to completion; generous timeout, as test machines run many suites at once. */
function runBin(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const isRoot = process.getuid?.() === 0;
const dirs: string[] = [];
const dir = () => {
  const d = tempDir('sk-doctor-');
  dirs.push(d);
  return d;
};
after(() => dirs.forEach(removeDir));

/** Runs doctor with a config whose data_dir is in a temp dir (extra YAML appended). */
function doctor(args: string[], extraYaml = '', env: Record<string, string> = {}) {
  const d = dir();
  const cfg = join(d, 'sk.yaml');
  writeFileSync(cfg, `data_dir: "${d}/data"\n${extraYaml}`);
  const r = runBin(['--config', cfg, 'doctor', ...args], env);
  return { ...r, dir: d, cfg };
}

function parseJson(stdout: string): DoctorReport {
  const report = JSON.parse(stdout) as DoctorReport;
  assert.equal(typeof report.ok, 'boolean');
  for (const c of report.checks) {
    assert.match(c.id, /^[a-z][a-z0-9._-]*$/);
    assert.ok(['ok', 'warn', 'fail'].includes(c.status), c.status);
    assert.equal(typeof c.detail, 'string');
    if (c.status !== 'ok') assert.ok(c.hint, `${c.id} needs a hint`);
  }
  return report;
}

const byId = (r: DoctorReport, id: string) => {
  const c = r.checks.find((x) => x.id === id);
  assert.ok(c, `no check ${id}`);
  return c;
};

describe('sandkasten doctor', { skip: !isRoot && 'the checks expect root' }, () => {
  it('passes on this host: exit 0, a table of ok/warn rows', () => {
    const r = doctor([]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const lines = r.stdout.split('\n');
    assert.match(lines[0]!, /^CHECK\s+STATUS\s+DETAIL$/);
    for (const id of ['root', 'node-agent', 'runner', 'kernel', 'cgroup', 'cgroup.controllers', 'overlayfs', 'namespaces', 'seccomp', 'data_dir', 'data_dir.filesystem', 'data_dir.overlay', 'data_dir.space']) {
      assert.match(r.stdout, new RegExp(`^${id.replace('.', '\\.')}\\s+(ok|warn)\\s`, 'm'), id);
    }
    assert.doesNotMatch(r.stdout, /\sfail\s/);
    assert.match(r.stdout, /This host can run sandboxes/);
    assert.doesNotMatch(r.stdout, /\x1b\[/, 'no colors when not on a terminal');
  });

  it('--json: every check with id, status, detail and hints; the host facts from node-agent', () => {
    const r = doctor(['--json']);
    assert.equal(r.status, 0, r.stderr);
    const report = parseJson(r.stdout);
    assert.equal(report.ok, true);
    assert.equal(report.host?.kernel, release());
    assert.equal(byId(report, 'root').status, 'ok');
    assert.equal(byId(report, 'runner').status, 'ok');
    assert.match(byId(report, 'runner').detail, /static/);
    assert.equal(byId(report, 'cgroup.controllers').detail, 'memory, cpu, pids');
    assert.equal(byId(report, 'namespaces').status, 'ok');
    // data_dir does not exist yet: the probe ran where it will be, and left nothing behind.
    assert.equal(byId(report, 'data_dir').status, 'warn');
    assert.match(byId(report, 'data_dir').hint!, /sandkasten init/);
    assert.equal(byId(report, 'data_dir.overlay').status, 'ok');
    assert.deepEqual(readdirSync(r.dir).sort(), ['sk.yaml']);
  });

  it('an existing, private data_dir is ok', () => {
    const d = dir();
    mkdirSync(join(d, 'data'), { mode: 0o711 });
    const cfg = join(d, 'sk.yaml');
    writeFileSync(cfg, `data_dir: "${d}/data"\n`);
    const report = parseJson(runBin(['--config', cfg, 'doctor', '--json']).stdout);
    assert.equal(byId(report, 'data_dir').status, 'ok');
    assert.deepEqual(readdirSync(join(d, 'data')), [], 'the overlay probe cleaned up');
  });

  it('fails with a hint and exit 1 when node-agent is missing (config key or environment)', () => {
    for (const r of [doctor(['--json'], 'node_agent_path: /nonexistent/node-agent\n'), doctor(['--json'], '', { SANDKASTEN_NODE_AGENT_PATH: '/nonexistent/node-agent' })]) {
      assert.equal(r.status, 1, r.stderr);
      const report = parseJson(r.stdout);
      assert.equal(report.ok, false);
      const c = byId(report, 'node-agent');
      assert.equal(c.status, 'fail');
      assert.equal(c.detail, '/nonexistent/node-agent: not found');
      assert.match(c.hint!, /make -C node-agent.*node_agent_path/);
      // The checks that need node-agent say so instead of guessing.
      assert.match(byId(report, 'cgroup').detail, /not checked/);
    }
    const table = doctor([], 'node_agent_path: /nonexistent/node-agent\n');
    assert.equal(table.status, 1);
    assert.match(table.stdout, /^node-agent\s+fail\s+\/nonexistent\/node-agent: not found$/m);
    assert.match(table.stdout, /→ build it \(make -C node-agent\)/);
    assert.match(table.stdout, /1 required check failed/);
  });

  it('fails for a runner that is not a static executable of this architecture', () => {
    const d = dir();
    const script = join(d, 'runner.sh');
    writeFileSync(script, '#!/bin/sh\n', { mode: 0o755 });
    const notExec = join(d, 'runner-noexec');
    writeFileSync(notExec, 'x', { mode: 0o644 });
    const cases: [string, RegExp][] = [[process.execPath, /dynamically linked/], [script, /not an ELF executable/], [notExec, /not executable/], [d, /not a regular file/]];
    for (const [path, re] of cases) {
      const r = doctor(['--json'], `runner_path: "${path}"\n`);
      assert.equal(r.status, 1, `${path}: ${r.status} ${r.stderr}`);
      const c = byId(parseJson(r.stdout), 'runner');
      assert.equal(c.status, 'fail');
      assert.match(c.detail, re);
    }
  });

  it('reports a broken config as a failed check and still runs the rest', () => {
    const r = doctor(['--json'], 'defaults:\n  mem_limit_mb: lots\n');
    assert.equal(r.status, 1);
    const report = parseJson(r.stdout);
    assert.equal(byId(report, 'config').status, 'fail');
    assert.match(byId(report, 'config').detail, /defaults\.mem_limit_mb/);
    assert.equal(byId(report, 'node-agent').status, 'ok');
  });

  it('fails a data_dir on an overlay filesystem (in a private mount namespace)', () => {
    const d = dir();
    for (const x of ['lower', 'upper', 'work', 'merged']) mkdirSync(join(d, x));
    const cfg = join(d, 'sk.yaml');
    writeFileSync(cfg, `data_dir: "${d}/merged/data"\n`);
    const script = `mount -t overlay overlay -o lowerdir="$1/lower",upperdir="$1/upper",workdir="$1/work" "$1/merged" && shift && exec "$@"`;
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', d, process.execPath, BIN, '--config', cfg, 'doctor', '--json'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 1, r.stderr);
    const report = parseJson(r.stdout);
    const fs = byId(report, 'data_dir.filesystem');
    assert.equal(fs.status, 'fail');
    assert.match(fs.detail, /is on overlay: an overlay cannot be the upper layer of another overlay/);
    assert.match(fs.hint!, /ext4, xfs or btrfs/);
    assert.equal(byId(report, 'data_dir.overlay').status, 'fail');
  });

  it('refuses unknown arguments with exit 2 and answers --help', () => {
    const bad = runBin(['doctor', '--jsn']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /unknown argument "--jsn"/);
    const help = runBin(['doctor', '--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /Usage: sandkasten \[--config FILE\] doctor \[--json\]/);
    assert.match(runBin(['--help']).stdout, /doctor\s+Checks that this host/);
  });
});
