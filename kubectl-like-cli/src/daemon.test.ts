// skctl against the real daemon binary: what the controllers write (status, conditions, events,
// finalizers) is what get, wait, describe and delete show and wait for.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { removeDir, startDaemon, tempDir, type Daemon } from '@sandkasten/controller/dist/bin/testutil.js';
import { runSkctl, workspaceYaml } from './testutil.js';

let dir: string;
let home: string;
let daemon: Daemon;
let env: Record<string, string>;

before(async () => {
  dir = tempDir('skctl-daemon-');
  home = mkdtempSync(join(tmpdir(), 'skctl-home-'));
  daemon = await startDaemon({ dir });
  env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, XDG_CONFIG_HOME: join(home, 'config') };
  const r = await skctl('config', 'set-context', 'local', '--server', daemon.url, '--api-key', 'test-key');
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  await daemon.stop();
  removeDir(dir);
  rmSync(home, { recursive: true, force: true });
});

const skctl = (...args: string[]) => runSkctl(args, env, undefined, 30_000);

test('apply, wait for Ready, get, describe with the controller\'s events, delete through the finalizer', async () => {
  const f = join(home, 'ws.yaml');
  writeFileSync(f, workspaceYaml('data', 'spec:\n  reclaimPolicy: Delete\n'));
  let r = await skctl('apply', '-f', f);
  assert.equal(r.stdout, 'workspace.sandkasten.dev/data created\n', r.stderr);
  r = await skctl('wait', 'ws', 'data', '--for=condition=Ready', '--timeout=20s');
  assert.equal(r.stdout, 'workspace.sandkasten.dev/data condition met\n', r.stderr);

  r = await skctl('get', 'ws');
  assert.match(r.stdout, /^NAME\s+PHASE\s+SIZE\s+AGE\ndata\s+[A-Z]\w+\s+(\d+\s+)?\d+s\n$/, 'the phase the controller set');
  r = await skctl('describe', 'ws', 'data');
  assert.match(r.stdout, /\nConditions:\n\s+Type\s+Status\s+Reason\s+Age\s+Message\n.*\n\s+Ready\s+True\s/);
  assert.match(r.stdout, /\n {2}Finalizers:\n {4}\S+/);
  assert.match(r.stdout, /\nEvents:\n {2}Type +Reason +Age +From +Message\n[^]*\n {2}Normal +\w+ +\d+s  +\S+-controller +/);

  r = await skctl('delete', 'ws', 'data', '--timeout=20s');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'workspace.sandkasten.dev "data" deleted\n');
  r = await skctl('get', 'ws', 'data');
  assert.equal(r.code, 1, 'gone once delete returned: it waited for the finalizer');
  assert.match(r.stderr, /NotFound/);
  r = await skctl('version');
  assert.match(r.stdout, /^Client Version: v0\.1\.0\nServer Version: v\S*sandkasten\S*\n$/);
});
