// Restart safety with the real daemon binary: kill -9 with live sandboxes, and at moments in the
// middle of creating one; after the restart the sandboxes are adopted with their shells intact,
// half-made ones finished, those without a Session removed, and nothing leaks.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Session } from '@sandkasten/api-schemas';
import { startDaemon, tempDir, type Daemon } from '../bin/testutil.js';
import { BUNDLED_NODE_AGENT } from '../config/index.js';
import { RunnerClient } from '../runner/index.js';
import { agentRoot, containerId, NodeAgent, sessionPaths } from '../sandbox/index.js';
import { openSqliteStore } from '../store/index.js';
import { cleanupAgentRoot, leftovers, processAlive, sandboxSkip, sessionsUrl } from './session-testutil.js';

describe('restart safety (the daemon killed with -9)', { skip: sandboxSkip, timeout: 120_000 }, () => {
  const dir = tempDir('sk-restart-');
  const dataDir = join(dir, 'data');
  const config = `listen: "127.0.0.1:0"\ndata_dir: "${dataDir}"\nlog_level: debug\n`;
  const agent = new NodeAgent({ binary: BUNDLED_NODE_AGENT, root: agentRoot(dataDir) });
  let d: Daemon | undefined;

  after(async () => {
    await d?.stop('SIGKILL');
    await cleanupAgentRoot(agent);
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async () => (d = await startDaemon({ dir, config }));
  async function req(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const r = await fetch(d!.url + path, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : undefined };
  }
  async function waitSession(name: string, pred: (s: Session | undefined) => boolean, what: string, ms = 10_000): Promise<Session | undefined> {
    const end = Date.now() + ms;
    for (;;) {
      const r = await req('GET', `${sessionsUrl()}/${name}`);
      const s = r.status === 200 ? (r.body as Session) : undefined;
      if (pred(s)) return s;
      if (Date.now() > end) throw new Error(`${name}: timed out waiting for ${what}: ${JSON.stringify(s?.status)}\n${d?.output().slice(-3000)}`);
      await new Promise((res) => setTimeout(res, 5));
    }
  }
  const ready = (s: Session | undefined) => s?.status?.phase === 'Ready';
  const create = async (name: string) => {
    const r = await req('POST', sessionsUrl(), { apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name }, spec: {} });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body as Session;
  };

  test('live sessions are adopted with their shell state; a sandbox whose Session is gone, and stray directories, are removed', async () => {
    await start();
    const keep = await create('keep');
    const lost = await create('lost');
    const s = (await waitSession('keep', ready, 'Ready'))!;
    const l = (await waitSession('lost', ready, 'Ready'))!;
    const pid = s.status!.sandbox!.pid!;
    const socket = sessionPaths(dataDir, keep.metadata.uid!).socket;
    let c = new RunnerClient(socket);
    await c.exec('export FOO=bar; cd /tmp; sleep 300 & echo $! > /tmp/sleeper');
    c.close();

    await d!.stop('SIGKILL');
    assert.ok(processAlive(pid), 'the sandbox outlives the daemon');
    // While the daemon is down: the Session "lost" vanishes from the database (its sandbox is
    // now an orphan), and a directory of an unknown session appears.
    const store = openSqliteStore(join(dataDir, 'sandkasten.db'));
    assert.ok(store.delete({ resource: 'sessions', namespace: 'default', name: 'lost' }).ok);
    store.close();
    const stray = randomUUID();
    mkdirSync(join(dataDir, 'sessions', stray, 'upper'), { recursive: true });

    await start();
    const again = (await waitSession('keep', ready, 'Ready after the restart'))!;
    assert.equal(again.status?.sandbox?.pid, pid, 'the same sandbox, not a new one');
    c = new RunnerClient(socket);
    try {
      const r = await c.exec('echo "$FOO $PWD"; kill -0 $(cat /tmp/sleeper) && echo sleeper alive');
      assert.equal(r.output.toString(), 'bar /tmp\nsleeper alive\n');
    } finally {
      c.close();
    }
    assert.deepEqual(leftovers(dataDir, lost.metadata.uid!, l.status!.sandbox!.pid), []);
    assert.equal(existsSync(join(dataDir, 'sessions', stray)), false);
    assert.match(d!.output(), new RegExp(`removed orphan sandbox ${containerId(lost.metadata.uid!)}`));

    // A graceful stop leaves sandboxes running too.
    await d!.stop('SIGTERM');
    assert.ok(processAlive(pid));
    await start();
    assert.equal((await waitSession('keep', ready, 'Ready after SIGTERM'))!.status?.sandbox?.pid, pid);
    await req('DELETE', `${sessionsUrl()}/keep`);
    await waitSession('keep', (x) => x === undefined, 'gone');
    assert.deepEqual(leftovers(dataDir, keep.metadata.uid!, pid), []);
    await d!.stop('SIGTERM');
  });

  test('killed at moments during a create: after the restart the session becomes Ready, once, and nothing leaks', async () => {
    const uids: string[] = [];
    for (const delayMs of [0, 2, 5, 10, 20, 40]) {
      await start();
      const name = `mid-${delayMs}`;
      const created = await create(name);
      uids.push(created.metadata.uid!);
      await new Promise((r) => setTimeout(r, delayMs));
      await d!.stop('SIGKILL');
      await start();
      const s = (await waitSession(name, ready, `Ready after a kill ${delayMs} ms into the create`))!;
      // Exactly one sandbox for the session, and it works.
      const mine = (await agent.list()).filter((x) => x.id === containerId(created.metadata.uid!));
      assert.equal(mine.length, 1);
      assert.equal(mine[0]!.pid, s.status!.sandbox!.pid);
      const c = new RunnerClient(sessionPaths(dataDir, created.metadata.uid!).socket);
      try {
        assert.equal((await c.exec('echo ok')).output.toString(), 'ok\n');
      } finally {
        c.close();
      }
      await req('DELETE', `${sessionsUrl()}/${name}`);
      await waitSession(name, (x) => x === undefined, 'gone');
      await d!.stop('SIGKILL');
    }
    for (const uid of uids) assert.deepEqual(leftovers(dataDir, uid), [], uid);
    assert.deepEqual(await agent.list(), []);
    assert.deepEqual(readdirSync(join(dataDir, 'sessions')), []);
  });
});
