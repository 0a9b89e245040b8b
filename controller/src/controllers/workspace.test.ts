// The Workspace controller against a real store, the API's write path and real directories.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Workspace } from '@sandkasten/api-schemas';
import { workspacePath } from '../sandbox/paths.js';
import {
  WORKSPACE_FINALIZER,
  defaultWorkspaceName,
  ensureDefaultWorkspace,
  ensureWorkspace,
  workspaceController,
} from './workspace.js';
import { diskUsage } from './workspace-size.js';
import { startHarness, waitFor, type Harness } from './workspace-testutil.js';

const isRoot = process.getuid?.() === 0;
const MiB = 1 << 20;

async function started(h: Harness) {
  const manager = h.newManager();
  const controller = workspaceController({
    client: h.client,
    manager,
    dataDir: h.dataDir,
    recorder: h.recorder,
    logger: h.logger,
    size: { boundIntervalMs: 300, idleIntervalMs: 300 },
  });
  await manager.start();
  return { manager, controller };
}

const get = (h: Harness, name: string, ns = 'default') => h.client.tryGet('workspaces', ns, name);
const statusOf = async (h: Harness, name: string, ns = 'default') => (await get(h, name, ns))?.status;

describe('workspace controller', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness('sk-ws-');
    await started(h);
  });
  after(async () => {
    await h.close();
  });

  test('a new workspace gets its finalizer, its directory (1000:1000 0755, parents 0711) and status Available', async () => {
    const ws = await h.workspace('alpha');
    const st = await waitFor('Available', async () => ((await statusOf(h, 'alpha'))?.phase === 'Available' ? statusOf(h, 'alpha') : undefined));
    const cur = (await get(h, 'alpha'))!;
    assert.deepEqual(cur.metadata.finalizers, [WORKSPACE_FINALIZER]);
    const dir = workspacePath(h.dataDir, 'default', 'alpha');
    const s = lstatSync(dir);
    assert.ok(s.isDirectory());
    assert.equal(s.mode & 0o7777, 0o755);
    if (isRoot) {
      assert.equal(s.uid, 1000);
      assert.equal(s.gid, 1000);
    }
    for (const p of [join(h.dataDir, 'workspaces'), join(h.dataDir, 'workspaces', 'default')]) {
      assert.equal(statSync(p).mode & 0o7777, 0o711, p);
      if (isRoot) assert.equal(statSync(p).uid, 0);
    }
    assert.deepEqual(st!.sessions, []);
    assert.equal(st!.observedGeneration, ws.metadata.generation);
    const ready = st!.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'True');
    assert.equal(ready?.reason, 'Available');
    await waitFor('sizeBytes', async () => (await statusOf(h, 'alpha'))?.sizeBytes !== undefined);
    const reasons = (await h.events('alpha')).map((e) => e.reason);
    assert.deepEqual(reasons, ['Provisioned']);
  });

  test('status.sessions and the phase follow the sessions that name the workspace', async () => {
    await h.workspace('shared');
    await waitFor('Available', async () => (await statusOf(h, 'shared'))?.phase === 'Available');
    await h.session('s1', { workspace: 'shared' });
    await waitFor('Bound by s1', async () => {
      const st = await statusOf(h, 'shared');
      return st?.phase === 'Bound' && JSON.stringify(st.sessions) === '["s1"]';
    });
    await h.session('s2', { workspace: { name: 'shared', mountPath: '/data' } });
    await h.session('other', { workspace: 'elsewhere' });
    await h.session('s3', { workspace: 'shared' }, 'team-b'); // another namespace: another workspace
    await waitFor('s1, s2', async () => JSON.stringify((await statusOf(h, 'shared'))?.sessions) === '["s1","s2"]');
    const ready = (await statusOf(h, 'shared'))!.conditions!.find((c) => c.type === 'Ready')!;
    assert.equal(ready.reason, 'Bound');
    assert.match(ready.message ?? '', /s1, s2/);

    await h.client.delete('sessions', 'default', 's1');
    await waitFor('s2 only', async () => JSON.stringify((await statusOf(h, 'shared'))?.sessions) === '["s2"]');
    // A session that moves to another workspace releases this one.
    const s2 = await h.client.get('sessions', 'default', 's2');
    s2.spec = { ...s2.spec, workspace: 'elsewhere' };
    await h.client.update('sessions', s2);
    await waitFor('Available again', async () => {
      const st = await statusOf(h, 'shared');
      return st?.phase === 'Available' && st.sessions?.length === 0;
    });
    for (const [ns, n] of [['default', 's2'], ['default', 'other'], ['team-b', 's3']] as const) await h.client.delete('sessions', ns, n);
  });

  test('deleting a workspace in use waits, naming the sessions, and completes once they are gone (Delete removes the data)', async () => {
    await h.workspace('busy', { reclaimPolicy: 'Delete' });
    const dir = workspacePath(h.dataDir, 'default', 'busy');
    await waitFor('directory', () => existsSync(dir));
    writeFileSync(join(dir, 'data.txt'), 'precious');
    await h.session('a', { workspace: 'busy' });
    // b holds a finalizer of its own, as a session whose sandbox is still being removed does.
    const b = await h.session('b', { workspace: 'busy' });
    b.metadata.finalizers = ['test.sandkasten.dev/hold'];
    await h.client.update('sessions', b);
    await waitFor('Bound by a, b', async () => JSON.stringify((await statusOf(h, 'busy'))?.sessions) === '["a","b"]');

    const del = await h.client.delete('workspaces', 'default', 'busy');
    assert.equal(del.deleted, false);
    const waiting = await waitFor('Terminating', async () => {
      const ws = await get(h, 'busy');
      return ws?.status?.phase === 'Terminating' ? ws : undefined;
    });
    assert.deepEqual(waiting.metadata.finalizers, [WORKSPACE_FINALIZER]);
    assert.match(waiting.status!.message!, /in use by sessions a, b/);
    assert.equal(waiting.status!.reason, 'InUse');
    assert.equal(waiting.status!.conditions!.find((c) => c.type === 'Ready')!.status, 'False');
    assert.ok(existsSync(join(dir, 'data.txt')));

    await h.client.delete('sessions', 'default', 'a');
    await h.client.delete('sessions', 'default', 'b'); // Terminating: still mounts the workspace
    await waitFor('only b', async () => /in use by session b;/.test((await statusOf(h, 'busy'))?.message ?? ''));
    assert.ok(await get(h, 'busy'));
    assert.ok(existsSync(join(dir, 'data.txt')));

    await h.client.removeFinalizer('sessions', 'default', 'b', 'test.sandkasten.dev/hold');
    await waitFor('workspace gone', async () => (await get(h, 'busy')) === undefined);
    assert.equal(existsSync(dir), false);
    const reasons = (await h.events('busy')).map((e) => e.reason);
    assert.ok(reasons.includes('WaitingForSessions'), reasons.join());
    assert.ok(reasons.includes('DataDeleted'), reasons.join());
    // The trash is emptied in the background.
    await waitFor('trash empty', () => readdirSync(join(h.dataDir, 'workspaces', '.trash')).length === 0);
  });

  test('Retain keeps the data on disk, and a new workspace of the same name takes it up', async () => {
    await h.workspace('keep', { reclaimPolicy: 'Retain' });
    const dir = workspacePath(h.dataDir, 'default', 'keep');
    await waitFor('directory', () => existsSync(dir));
    writeFileSync(join(dir, 'notes.md'), 'kept');
    await h.client.delete('workspaces', 'default', 'keep');
    await waitFor('workspace gone', async () => (await get(h, 'keep')) === undefined);
    assert.equal(readFileSync(join(dir, 'notes.md'), 'utf8'), 'kept');
    const retained = (await h.events('keep')).find((e) => e.reason === 'DataRetained');
    assert.match(retained?.message ?? '', /workspaces\/default\/keep/);
    assert.ok(h.logger.lines.some((l) => l.includes(`data kept at ${dir}`)));

    await h.workspace('keep');
    await waitFor('Available', async () => (await statusOf(h, 'keep'))?.phase === 'Available');
    assert.equal(readFileSync(join(dir, 'notes.md'), 'utf8'), 'kept');
    const reasons = (await h.events('keep')).map((e) => e.reason);
    assert.ok(reasons.includes('Adopted'), reasons.join());
  });

  test('sizeBytes follows the data written, also while sessions use it', async () => {
    await h.workspace('sized', { sizeLimit: '2Mi' });
    const dir = workspacePath(h.dataDir, 'default', 'sized');
    const small = await waitFor('first size', async () => (await statusOf(h, 'sized'))?.sizeBytes);
    assert.ok(small < 64 * 1024, `empty workspace measured ${small}`);
    const within = (await statusOf(h, 'sized'))!.conditions!.find((c) => c.type === 'SizeLimitExceeded');
    assert.equal(within?.status, 'False');

    writeFileSync(join(dir, 'blob'), randomBytes(3 * MiB));
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'more'), randomBytes(MiB));
    const big = await waitFor('4 MiB measured', async () => {
      const n = (await statusOf(h, 'sized'))?.sizeBytes ?? 0;
      return n >= 4 * MiB ? n : undefined;
    });
    assert.ok(big < 4 * MiB + 256 * 1024, `measured ${big}`);
    const over = (await statusOf(h, 'sized'))!.conditions!.find((c) => c.type === 'SizeLimitExceeded')!;
    assert.equal(over.status, 'True');
    assert.match(over.message ?? '', /4Mi of 2Mi/);
    assert.ok((await h.events('sized')).some((e) => e.reason === 'SizeLimitExceeded' && e.type === 'Warning'));

    await h.session('writer', { workspace: 'sized' });
    rmSync(join(dir, 'blob'));
    await waitFor('1 MiB measured', async () => {
      const n = (await statusOf(h, 'sized'))?.sizeBytes ?? Infinity;
      return n < 2 * MiB && n >= MiB;
    });
    await h.client.delete('sessions', 'default', 'writer');
  });

  test('a path that is not a directory fails the workspace, and it recovers once the host is fixed', async () => {
    const dir = workspacePath(h.dataDir, 'default', 'blocked');
    mkdirSync(join(h.dataDir, 'workspaces', 'default'), { recursive: true });
    writeFileSync(dir, 'in the way');
    await h.workspace('blocked');
    const st = await waitFor('Failed', async () => {
      const s = await statusOf(h, 'blocked');
      return s?.phase === 'Failed' ? s : undefined;
    });
    assert.match(st.message ?? '', /exists and is not a directory/);
    assert.equal(st.conditions!.find((c) => c.type === 'Ready')!.reason, 'ProvisioningFailed');
    rmSync(dir);
    await waitFor('Available', async () => (await statusOf(h, 'blocked'))?.phase === 'Available', 10_000);
    const s = await statusOf(h, 'blocked');
    assert.equal(s!.message, undefined);
    assert.ok((await h.events('blocked')).some((e) => e.reason === 'ProvisioningFailed' && e.type === 'Warning'));
  });

  test('ensureWorkspace and ensureDefaultWorkspace create once and then return what exists', async () => {
    const a = await ensureWorkspace(h.client, 'default', 'made', { reclaimPolicy: 'Delete' });
    const b = await ensureWorkspace(h.client, 'default', 'made');
    assert.equal(a.metadata.uid, b.metadata.uid);
    assert.equal(b.spec?.reclaimPolicy, 'Delete');

    const name = await ensureDefaultWorkspace(h.client, { metadata: { name: 'agent-7', namespace: 'default' } });
    assert.equal(name, 'ws-agent-7');
    assert.equal(await ensureDefaultWorkspace(h.client, { metadata: { name: 'agent-7', namespace: 'default' } }), name);
    const ws = (await get(h, name)) as Workspace;
    assert.equal(ws.spec?.reclaimPolicy, 'Retain');
    assert.equal(ws.metadata.labels?.['sandkasten.dev/session'], 'agent-7');
    assert.equal(defaultWorkspaceName('x'.repeat(253)).length, 253);
    await waitFor('provisioned', () => existsSync(workspacePath(h.dataDir, 'default', name)));
  });
});

describe('workspace controller restart', () => {
  test('a restarted controller rewrites nothing and records nothing new', async () => {
    const h = await startHarness('sk-ws-restart-');
    try {
      const first = await started(h);
      await h.workspace('steady');
      await h.session('user', { workspace: 'steady' });
      await waitFor('Bound with a size', async () => {
        const st = await statusOf(h, 'steady');
        return st?.phase === 'Bound' && st.sizeBytes !== undefined;
      });
      await first.manager.stop();
      const before = (await get(h, 'steady'))!;
      const events = (await h.events('steady')).length;

      const second = await started(h);
      await waitFor('reconciled', () => second.controller.stats.success + second.controller.stats.requeueAfter > 0);
      await new Promise((r) => setTimeout(r, 200));
      const now = (await get(h, 'steady'))!;
      // The size is measured again (a fresh process knows none), but the same size writes nothing.
      assert.equal(now.metadata.resourceVersion, before.metadata.resourceVersion);
      assert.equal((await h.events('steady')).length, events);
    } finally {
      await h.close();
    }
  });
});

describe('diskUsage', () => {
  test('counts allocated blocks, hard links once, and fails clearly', async () => {
    const h = await startHarness('sk-du-');
    try {
      const d = join(h.dir, 'tree');
      mkdirSync(d);
      writeFileSync(join(d, 'a'), randomBytes(MiB));
      const one = await diskUsage(d);
      assert.ok(one >= MiB && one < MiB + 64 * 1024, String(one));
      const { linkSync } = await import('node:fs');
      linkSync(join(d, 'a'), join(d, 'b'));
      assert.equal(await diskUsage(d), one);
      await assert.rejects(diskUsage(join(h.dir, 'absent')), /du .*absent.*exit 1/);
      await assert.rejects(diskUsage(d, { du: join(h.dir, 'no-such-du') }), { code: 'ENOENT' });
    } finally {
      await h.close();
    }
  });
});
