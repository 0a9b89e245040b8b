// skctl tui's GitOps view end to end: the real daemon (--api-only) keeps a directory with one good
// manifest and one broken file applied; in an 80×24 tmux pane, g shows its GitOpsSync (APPLIED 1,
// FAILED 1), Enter shows the broken file's error and the Warning event, a fix of the file shows
// up live through the watch, and Esc goes back to the GitOps list and then the sessions.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { removeDir, startDaemon, tempDir, type Daemon } from '@sandkasten/controller/dist/bin/testutil.js';
import { syncObjectName } from '@sandkasten/controller/dist/gitops/names.js';
import { TmuxHarness, type Launched } from './tmux-testutil.js';

const harness = new TmuxHarness('skctl-tui-gitops-test');
const { screen, keys, waitFor } = harness;
const SESSIONS_HEADER = /^NAME +NAMESPACE +PHASE +IMAGE +AGE +CPU +MEMORY *$/m;
const GITOPS_HEADER = /^NAME +SYNCED +APPLIED +PRUNED +FAILED +COMMIT +LAST SYNC *$/m;

let dir: string;
let manifests: string;
let daemon: Daemon;
let name: string;
let tui: Launched;

const WORKSPACE = 'apiVersion: sandkasten.dev/v1\nkind: Workspace\nmetadata: {name: tui-data}\n';
// A misspelt field: strict validation refuses the whole file.
const BROKEN = 'apiVersion: sandkasten.dev/v1\nkind: Workspace\nmetadata: {name: tui-broken}\nspec:\n  sizeLimitt: 1Gi\n';
const FIXED = 'apiVersion: sandkasten.dev/v1\nkind: Workspace\nmetadata: {name: tui-broken}\n';

const fits = (s: string) => s.split('\n').every((l) => l.length <= 80);

before(async () => {
  dir = tempDir('skctl-tui-gitops-');
  mkdirSync(join(dir, 'config'));
  manifests = join(dir, 'manifests');
  mkdirSync(manifests);
  writeFileSync(join(manifests, 'data.yaml'), WORKSPACE);
  writeFileSync(join(manifests, 'broken.yaml'), BROKEN);
  name = syncObjectName(manifests);
  const config = `listen: "127.0.0.1:0"\napi_key: "test-key"\ndata_dir: "${join(dir, 'data')}"\ngitops:\n  path: "${manifests}"\n  prune: true\n`;
  daemon = await startDaemon({ dir, config, args: ['--api-only'] });
});

after(async () => {
  harness.kill();
  try {
    await daemon.stop();
  } finally {
    removeDir(dir);
  }
});

test('g shows the GitOpsSync: APPLIED 1, FAILED 1', async () => {
  tui = harness.launch({ dir, server: daemon.url });
  await waitFor(SESSIONS_HEADER, 'the sessions table');
  assert.match(screen(), /g gitops/);
  keys('g');
  const s = await waitFor(new RegExp(`^${name} +False +1 +0 +1 +\\d+s *$`, 'm'), 'the GitOpsSync row');
  assert.match(s, GITOPS_HEADER);
  assert.match(s.split('\n')[0]!, /^ Sandkasten +gitops .* 1 · ● live *$/);
  assert.match(s, /Esc g sessions/);
  assert.ok(fits(s), s);
});

test('Enter shows the broken file\'s error, the counts and the Warning event', async () => {
  keys('Enter');
  const s = await waitFor(/^ {2}broken\.yaml +document 0/m, 'the error of broken.yaml');
  assert.match(s, new RegExp(`gitops ${name}`));
  assert.match(s, new RegExp(`^GitOpsSync: ${name} +Synced False +Degraded *$`, 'm'));
  assert.match(s, /^Counts: +objects 1  applied 1  unchanged 0  pruned 0  failed 1  orphaned 0 *$/m);
  assert.match(s, /^ {4}.*sizeLimitt/m, 'the message names the misspelt field');
  assert.ok(fits(s), s);
  // The events are further down: scroll to them.
  keys('PageDown', 'PageDown');
  const e = await waitFor(/^ {2}Warning +SyncFailed +\d+s +\S+ +1 manifest failed: broken\.yaml\[0\]/m, 'the SyncFailed event');
  assert.ok(fits(e), e);
});

test('a fix of the file shows up live; Esc goes back to the list, then to the sessions', async () => {
  writeFileSync(join(manifests, 'broken.yaml'), FIXED);
  keys('Home');
  await waitFor((s) => /^Errors: +<none>/m.test(s) && new RegExp(`Synced True`).test(s), 'the details after the fix');
  keys('Escape');
  await waitFor(new RegExp(`^${name} +True +1 +0 +0 +\\d+s *$`, 'm'), 'the row after the fix');
  keys('Escape');
  await waitFor(SESSIONS_HEADER, 'the sessions table again');
  keys('g');
  await waitFor(GITOPS_HEADER, 'the GitOps list once more');
  keys('g');
  await waitFor(SESSIONS_HEADER, 'g goes back too');
  keys('q');
  await waitFor(() => tui.exitCode() !== undefined, 'the TUI to end');
  assert.equal(tui.exitCode(), '0');
});
