// The TTL reaper against a real store and the API's write path; Sessions are plain objects (no
// sandboxes): a test finalizer stands in for the Session controller's, so the Expired status can
// be read before the object goes.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Session } from '@sandkasten/api-schemas';
import { expireTimeOf, reaperController, sessionDeadline, type ReaperOptions } from './reaper.js';
import { startHarness, waitFor, type Harness } from './workspace-testutil.js';

const HOLD = 'test.sandkasten.dev/hold';

async function withReaper(
  ttl: number,
  fn: (h: Harness, r: ReturnType<typeof reaperController>) => Promise<void>,
  extra: Partial<ReaperOptions> = {},
): Promise<void> {
  const h = await startHarness('sk-reaper-');
  try {
    const manager = h.newManager();
    const r = reaperController({ client: h.client, manager, config: { session_ttl_seconds: ttl }, recorder: h.recorder, logger: h.logger, ...extra });
    await manager.start();
    await fn(h, r);
  } finally {
    await h.close();
  }
}

/** A session held by a finalizer, as a real one is held by its sandbox's. */
async function held(h: Harness, name: string, spec: Session['spec'] = {}): Promise<Session> {
  const s = await h.session(name, spec);
  s.metadata.finalizers = [HOLD];
  return h.client.update('sessions', s);
}

const get = (h: Harness, name: string) => h.client.tryGet('sessions', 'default', name);
const gone = (h: Harness, name: string) => async () => (await get(h, name)) === undefined;
const touch = (h: Harness, name: string) =>
  h.client.patchStatus('sessions', 'default', name, { status: { lastActivityTime: new Date().toISOString() } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('sessionDeadline', () => {
  const meta = { name: 's', creationTimestamp: '2024-01-01T00:00:00Z' };
  // Whole-second stamps count as the end of their second (they were rounded down when written).
  const t0 = Date.parse(meta.creationTimestamp) + 999;
  test('idle time counts from the last activity, else from creation; 0 means the default', () => {
    assert.deepEqual(sessionDeadline({ metadata: meta }, 1800), { at: t0 + 1_800_000, reason: 'IdleTimeout', ttlSeconds: 1800, idleSince: t0 });
    assert.equal(sessionDeadline({ metadata: meta, spec: { ttlSeconds: 0 } }, 60).at, t0 + 60_000);
    assert.equal(sessionDeadline({ metadata: meta, spec: { ttlSeconds: 10 } }, 60).at, t0 + 10_000);
    const act = { metadata: meta, spec: { ttlSeconds: 10 }, status: { lastActivityTime: '2024-01-01T00:05:00.250Z' } };
    assert.equal(sessionDeadline(act, 60).at, Date.parse(meta.creationTimestamp) + 300_250 + 10_000);
    // Activity stamped before creation (a skewed writer) does not make the session older.
    assert.equal(sessionDeadline({ ...act, status: { lastActivityTime: '2023-12-31T00:00:00Z' } }, 60).at, t0 + 10_000);
    assert.equal(sessionDeadline({ ...act, status: { lastActivityTime: 'garbage' } }, 60).at, t0 + 10_000);
  });
  test('the maximum lifetime wins when it comes first, activity or not', () => {
    const s = { metadata: meta, spec: { ttlSeconds: 100, maxLifetimeSeconds: 50 }, status: { lastActivityTime: '2024-01-01T00:00:40Z' } };
    assert.deepEqual(sessionDeadline(s, 60), { at: t0 + 50_000, reason: 'MaxLifetimeExceeded', ttlSeconds: 100, idleSince: t0 + 40_000 });
    assert.equal(sessionDeadline({ ...s, spec: { ttlSeconds: 5, maxLifetimeSeconds: 50 } }, 60).reason, 'IdleTimeout');
  });
  test('a whole-second creation stamp never shortens the first TTL', () => {
    const created = '2024-01-01T00:00:00Z';
    // Created at 00:00:00.990 and stamped 00:00:00: a 1 s TTL must not end before 00:00:01.990.
    assert.ok(sessionDeadline({ metadata: { name: 's', creationTimestamp: created }, spec: { ttlSeconds: 1 } }, 60).at >= Date.parse(created) + 1999);
    // Millisecond stamps are taken as written.
    assert.equal(sessionDeadline({ metadata: { name: 's', creationTimestamp: '2024-01-01T00:00:00.500Z' }, spec: { ttlSeconds: 1 } }, 60).at, Date.parse(created) + 1500);
  });
});

describe('reaper', () => {
  test('an idle session expires after its TTL: status Expired, an Expired Event, then deleted', async () => {
    await withReaper(3600, async (h) => {
      const s = await held(h, 'idle', { ttlSeconds: 1 });
      const created = Date.parse(s.metadata.creationTimestamp!);
      const expired = await waitFor('Expired', async () => {
        const x = await get(h, 'idle');
        return x?.status?.phase === 'Expired' ? x : undefined;
      }, 4000);
      const at = Date.now();
      assert.ok(at >= created + 1000, `expired ${at - created} ms after creation`);
      assert.ok(at <= created + 2500, `expired ${at - created} ms after creation`);
      assert.equal(expired.status!.reason, 'IdleTimeout');
      assert.match(expired.status!.message!, /idle for \ds, longer than its TTL of 1 s/);
      assert.ok(expired.metadata.deletionTimestamp, 'deleted after the status write');
      const ev = (await h.events('idle')).find((e) => e.reason === 'Expired');
      assert.ok(ev, 'Expired event');
      assert.equal(ev.type, 'Normal');
      assert.match(ev.message ?? '', /^IdleTimeout: idle for/);
      await h.client.removeFinalizer('sessions', 'default', 'idle', HOLD);
      assert.equal(await get(h, 'idle'), undefined);
      // Without a finalizer the object goes at once.
      await h.session('plain', { ttlSeconds: 1 });
      await waitFor('plain gone', gone(h, 'plain'), 4000);
    });
  });

  test('activity postpones expiry and moves status.expireTime; the session expires once it stops', async () => {
    await withReaper(3600, async (h) => {
      await h.session('busy', { ttlSeconds: 2 });
      const until = Date.now() + 3500;
      let last = Date.now();
      while (Date.now() < until) {
        await touch(h, 'busy');
        last = Date.now();
        await sleep(300);
        assert.ok(await get(h, 'busy'), 'alive while active');
      }
      const s = (await get(h, 'busy'))!;
      const exp = Date.parse(s.status!.expireTime!);
      // Published conservatively (never later than the real deadline), yet it moved with the
      // activity: the first one was creation + 2 s, about 1.5 s before the last activity.
      assert.ok(exp <= last + 2000, `expireTime ${exp - last} ms after the last activity`);
      assert.ok(exp > last - 500, `expireTime ${exp - last} ms after the last activity`);
      await waitFor('gone after idling', gone(h, 'busy'), 4000);
      const idle = Date.now() - last;
      assert.ok(idle >= 1900 && idle < 3000, `gone ${idle} ms after the last activity`);
    });
  });

  test('maxLifetimeSeconds expires an active session', async () => {
    await withReaper(3600, async (h) => {
      const s = await held(h, 'old', { ttlSeconds: 60, maxLifetimeSeconds: 2 });
      const created = Date.parse(s.metadata.creationTimestamp!);
      assert.equal(Date.parse((await waitFor('expireTime', async () => (await get(h, 'old'))?.status?.expireTime))), created + 2000);
      const expired = await waitFor('Expired', async () => {
        await touch(h, 'old').catch(() => undefined);
        const x = await get(h, 'old');
        return x?.status?.phase === 'Expired' ? x : undefined;
      }, 5000);
      assert.equal(expired.status!.reason, 'MaxLifetimeExceeded');
      assert.match(expired.status!.message!, /maximum lifetime of 2 s/);
      assert.ok(Date.now() >= created + 2000);
      assert.ok((await h.events('old')).some((e) => e.reason === 'Expired' && /^MaxLifetimeExceeded/.test(e.message ?? '')));
    });
  });

  test('sessions without a TTL (or 0) take session_ttl_seconds', async () => {
    await withReaper(1, async (h) => {
      await h.session('none');
      await h.session('zero', { ttlSeconds: 0 });
      await h.session('long', { ttlSeconds: 600 });
      await waitFor('none gone', gone(h, 'none'), 4000);
      await waitFor('zero gone', gone(h, 'zero'), 4000);
      const long = (await get(h, 'long'))!;
      assert.equal(Date.parse(long.status!.expireTime!), Date.parse(long.metadata.creationTimestamp!) + 600_000);
    });
  });

  test('a Ready condition turns False with reason Expired', async () => {
    await withReaper(3600, async (h) => {
      await held(h, 'ready', { ttlSeconds: 1 });
      await h.client.patchStatus('sessions', 'default', 'ready', {
        status: { phase: 'Ready', conditions: [{ type: 'Ready', status: 'True', reason: 'Running', lastTransitionTime: '2024-01-01T00:00:00Z' }] },
      });
      const x = await waitFor('Expired', async () => {
        const s = await get(h, 'ready');
        return s?.status?.phase === 'Expired' ? s : undefined;
      }, 4000);
      const ready = x.status!.conditions!.find((c) => c.type === 'Ready')!;
      assert.equal(ready.status, 'False');
      assert.equal(ready.reason, 'Expired');
      assert.notEqual(ready.lastTransitionTime, '2024-01-01T00:00:00Z');
    });
  });

  test('a waiting session costs no work until its deadline (no polling)', async () => {
    await withReaper(3600, async (h, r) => {
      await h.session('quiet', { ttlSeconds: 3600 });
      await waitFor('expireTime', async () => (await get(h, 'quiet'))?.status?.expireTime);
      await sleep(1000);
      const { success, requeueAfter, error } = r.stats;
      // The add, the expireTime write's own update, and nothing after.
      assert.ok(success + requeueAfter <= 3, JSON.stringify(r.stats));
      assert.equal(error, 0);
    });
  });

  test('firstWriteGraceMs: a new session waits for the Session controller to publish expireTime; unwritten, the reaper publishes it after the grace', async () => {
    await withReaper(
      3600,
      async (h) => {
        const a = await h.session('unwritten', { ttlSeconds: 600 });
        const b = await h.session('written', { ttlSeconds: 600 });
        // What the Session controller's first status write does.
        const bw = await h.client.patchStatus('sessions', 'default', 'written', { status: { phase: 'Starting', expireTime: expireTimeOf(b, 3600) } });
        await sleep(300);
        assert.equal((await get(h, 'unwritten'))?.status?.expireTime, undefined);
        assert.equal((await get(h, 'written'))?.metadata.resourceVersion, bw.metadata.resourceVersion, 'the reaper wrote nothing');
        const exp = await waitFor('expireTime after the grace', async () => (await get(h, 'unwritten'))?.status?.expireTime, 4000);
        assert.equal(Date.parse(exp), Date.parse(a.metadata.creationTimestamp!) + 600_000);
        assert.equal((await get(h, 'written'))?.metadata.resourceVersion, bw.metadata.resourceVersion, 'the reaper wrote nothing');
      },
      { firstWriteGraceMs: 1500 },
    );
  });

  test('a restarted reaper deletes sessions that expired while it was down at once', async () => {
    const h = await startHarness('sk-reaper-restart-');
    try {
      const m1 = h.newManager();
      reaperController({ client: h.client, manager: m1, config: { session_ttl_seconds: 3600 }, recorder: h.recorder });
      await m1.start();
      await m1.stop();
      await h.session('overdue', { ttlSeconds: 1 });
      await sleep(2100);
      assert.ok(await get(h, 'overdue'), 'nobody reaped it while the reaper was down');
      const m2 = h.newManager();
      reaperController({ client: h.client, manager: m2, config: { session_ttl_seconds: 3600 }, recorder: h.recorder });
      const t = Date.now();
      await m2.start();
      await waitFor('overdue gone', gone(h, 'overdue'), 2000);
      assert.ok(Date.now() - t < 500, `took ${Date.now() - t} ms`);
    } finally {
      await h.close();
    }
  });

  test('a jump of the wall clock is noticed and overdue sessions expire', async () => {
    let offset = 0;
    await withReaper(
      3600,
      async (h) => {
        await h.session('far', { ttlSeconds: 3600 });
        await waitFor('expireTime', async () => (await get(h, 'far'))?.status?.expireTime);
        await sleep(200);
        assert.ok(await get(h, 'far'));
        offset = 2 * 3600_000; // the host resumes from a two-hour suspend
        await waitFor('far gone', gone(h, 'far'), 2000);
        assert.ok(h.logger.lines.some((l) => /wall clock jumped/.test(l)));
      },
      { clock: () => Date.now() + offset, clockCheckMs: 50 },
    );
  });
});
