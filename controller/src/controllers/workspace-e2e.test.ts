// A Workspace with real sandboxes: the daemon's controllers and an API server over one store, the
// runner reached at its host socket. Data written in one session is there for the next; deleting
// the Workspace waits for the session using it, then removes the data.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Session, Workspace } from '@sandkasten/api-schemas';
import { readImageMeta, writeImageMeta } from '../images/index.js';
import { RunnerClient } from '../runner/index.js';
import { sessionPaths, workspacePath } from '../sandbox/index.js';
import { API, leftovers, sandboxSkip, sessionsUrl, startSandboxHarness, type SandboxHarness } from './session-testutil.js';

const WS = `${API}/namespaces/default/workspaces`;
const isReady = (s: Session) => s.status?.phase === 'Ready';

async function inSession<T>(h: SandboxHarness, s: Session, fn: (c: RunnerClient) => Promise<T>): Promise<T> {
  const c = new RunnerClient(sessionPaths(h.dataDir, s.metadata.uid!).socket);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

async function sh(c: RunnerClient, command: string): Promise<string> {
  const r = await c.exec(command, { timeoutMs: 10_000 });
  assert.equal(r.exitCode, 0, `${command}: exit ${r.exitCode}: ${r.output.toString()}`);
  return r.output.toString();
}

describe('Workspace with real sandboxes', { skip: sandboxSkip, timeout: 120_000 }, () => {
  let h: SandboxHarness;
  before(async () => {
    h = await startSandboxHarness();
    // The built-in image as its unprivileged user (uid 1000) sees it.
    const base = readImageMeta(h.dataDir, 'base')!;
    writeImageMeta(h.dataDir, { ...base, name: 'base-user', config: { ...base.config, user: 'sandbox' } });
  });
  after(async () => {
    await h?.close();
  });

  async function workspace(name: string): Promise<Workspace | undefined> {
    const r = await h.req('GET', `${WS}/${name}`);
    return r.status === 200 ? (r.body as Workspace) : undefined;
  }
  async function waitWorkspace(name: string, pred: (w: Workspace | undefined) => boolean, what: string, timeoutMs = 10_000): Promise<Workspace | undefined> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const w = await workspace(name);
      if (pred(w)) return w;
      if (Date.now() > end) throw new Error(`workspace ${name}: timed out waiting for ${what}; last: ${JSON.stringify(w?.status)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  test('a file written in session A is seen by session B after A is gone; deletion waits for B, then removes the data', async () => {
    const created = await h.req('POST', WS, { apiVersion: 'sandkasten.dev/v1', kind: 'Workspace', metadata: { name: 'proj' }, spec: { reclaimPolicy: 'Delete' } });
    assert.equal(created.status, 201);
    await waitWorkspace('proj', (w) => w?.status?.phase === 'Available', 'Available');
    const dir = workspacePath(h.dataDir, 'default', 'proj');

    await h.create('a', { workspace: 'proj' });
    const a = await h.waitSession('a', isReady, 'A Ready', 15_000);
    const bound = await waitWorkspace('proj', (w) => w?.status?.phase === 'Bound', 'Bound by A');
    assert.deepEqual(bound!.status!.sessions, ['a']);
    await inSession(h, a, async (c) => {
      await sh(c, 'echo from-a > /workspace/a.txt && head -c 1048576 /dev/zero > /workspace/mib');
      assert.equal(await sh(c, 'stat -c "%u %a" /workspace'), '1000 755\n');
    });
    // A session running as the image's unprivileged user writes there too, beside root's files.
    await h.create('a-user', { image: 'base-user', workspace: 'proj' });
    const au = await h.waitSession('a-user', isReady, 'a-user Ready', 15_000);
    await waitWorkspace('proj', (w) => JSON.stringify(w?.status?.sessions) === '["a","a-user"]', 'sessions a, a-user');
    await inSession(h, au, async (c) => {
      assert.equal(await sh(c, 'id -u'), '1000\n');
      await sh(c, 'echo from-user > /workspace/user.txt && cat /workspace/a.txt');
    });
    assert.equal(statSync(join(dir, 'user.txt')).uid, 1000);
    await h.req('DELETE', `${sessionsUrl()}/a-user`);
    await h.waitGone('a-user');

    const del = await h.req('DELETE', `${sessionsUrl()}/a`);
    assert.equal(del.status, 202);
    await h.waitGone('a');
    assert.deepEqual(leftovers(h.dataDir, a.metadata.uid!, a.status?.sandbox?.pid), []);
    // A session leaving is a change worth measuring: the size follows at once, not at the next period.
    const measured = await waitWorkspace('proj', (w) => w?.status?.phase === 'Available' && (w.status.sizeBytes ?? 0) >= 1 << 20, 'Available with the data measured');
    assert.deepEqual(measured!.status!.sessions, []);

    await h.create('b', { workspace: { name: 'proj', mountPath: '/data' } });
    const b = await h.waitSession('b', isReady, 'B Ready', 15_000);
    await inSession(h, b, async (c) => {
      assert.equal(await sh(c, 'cat /data/a.txt /data/user.txt'), 'from-a\nfrom-user\n');
      await sh(c, 'echo from-b > /data/b.txt');
    });

    // Deleting the Workspace while B uses it: it waits, B keeps working.
    assert.equal((await h.req('DELETE', `${WS}/proj`)).status, 202);
    const waiting = await waitWorkspace('proj', (w) => w?.status?.phase === 'Terminating', 'Terminating');
    assert.match(waiting!.status!.message!, /in use by session b/);
    await inSession(h, b, async (c) => assert.equal(await sh(c, 'cat /data/b.txt'), 'from-b\n'));
    assert.ok(existsSync(join(dir, 'b.txt')));
    assert.equal(readFileSync(join(dir, 'a.txt'), 'utf8'), 'from-a\n');

    await h.req('DELETE', `${sessionsUrl()}/b`);
    await h.waitGone('b');
    await waitWorkspace('proj', (w) => w === undefined, 'Workspace gone');
    assert.equal(existsSync(dir), false);
    assert.deepEqual(leftovers(h.dataDir, b.metadata.uid!, b.status?.sandbox?.pid), []);
  });

  test('a session that outlives its TTL is expired and its sandbox removed', async () => {
    await h.create('brief', { ttlSeconds: 1 });
    const s = await h.waitSession('brief', isReady, 'Ready', 15_000);
    await h.waitGone('brief', 5000);
    assert.deepEqual(leftovers(h.dataDir, s.metadata.uid!, s.status?.sandbox?.pid), []);
    const ev = (await h.events('brief')).find((e) => e.reason === 'Expired');
    assert.match(ev?.message ?? '', /^IdleTimeout: idle for \d+s, longer than its TTL of 1 s/);
  });
});
