// The TTL sweeper over a real API server's store: what it deletes, what it keeps, and that an
// Event counted again between its list and its delete survives.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Event } from '@sandkasten/api-schemas';
import { startServer, type TestServer } from '../apiserver/testutil.js';
import { memoryLogger } from '../runtime/log.js';
import { event } from './sink-conformance.js';
import { storeEventSink, type EventSink } from './sink.js';
import { startEventSweeper, sweepEvents } from './sweeper.js';

const NOW = Date.parse('2025-03-01T12:00:00Z');
const HOUR = 3600_000;
const at = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

describe('event sweeper', () => {
  let server: TestServer;
  let sink: EventSink;
  before(async () => {
    server = await startServer();
    sink = storeEventSink(server.store);
  });
  after(() => server.cleanup());

  async function put(ns: string, name: string, lastSeenAgoMs: number): Promise<Event> {
    const last = at(NOW - lastSeenAgoMs);
    const r = await sink.create(event(ns, name, { firstTimestamp: at(NOW - lastSeenAgoMs - HOUR), lastTimestamp: last }));
    assert.ok(r.ok);
    return r.event;
  }
  const names = async () => (await sink.list()).map((e) => `${e.metadata.namespace}/${e.metadata.name}`).sort();

  it('deletes the Events last seen a TTL or more ago, and keeps the rest', async () => {
    await put('default', 'old.1', HOUR);
    await put('team-b', 'old.2', 5 * HOUR);
    await put('default', 'recent.1', HOUR - 1000);
    await put('default', 'fresh.1', 0);
    assert.equal(await sweepEvents(sink, HOUR, NOW), 2);
    assert.deepEqual(await names(), ['default/fresh.1', 'default/recent.1']);
    assert.equal(await sweepEvents(sink, HOUR, NOW), 0);
  });

  it('keeps an Event that was counted again after the sweep listed it', async () => {
    const stale = await put('default', 'busy.1', 2 * HOUR);
    const racing: EventSink = {
      ...sink,
      list: async () => {
        const items = await sink.list();
        const r = await sink.update({ ...stale, count: 2, lastTimestamp: at(NOW) });
        assert.ok(r.ok);
        return items;
      },
    };
    assert.equal(await sweepEvents(racing, HOUR, NOW), 0);
    assert.equal((await sink.get('default', 'busy.1'))?.count, 2);
  });

  it('sweeps at start and then periodically, and stops cleanly', async () => {
    let now = NOW;
    const log = memoryLogger();
    await put('default', 'gone.1', 2 * HOUR);
    const sweeper = startEventSweeper({ sink, ttlSeconds: 3600, intervalMs: 20, clock: () => now, logger: log });
    const until = async (done: () => Promise<boolean>) => {
      const deadline = Date.now() + 5000;
      while (!(await done()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    };
    try {
      await until(async () => (await sink.get('default', 'gone.1')) === undefined);
      assert.equal(await sink.get('default', 'gone.1'), undefined);
      assert.ok(log.lines.includes('INFO events: deleted 1 last seen more than 3600s ago'), log.lines.join('\n'));
      // Time passes: what was recent expires at a later sweep.
      now += HOUR - 500;
      await until(async () => (await names()).length === 2);
      assert.deepEqual(await names(), ['default/busy.1', 'default/fresh.1']);
    } finally {
      await sweeper.stop();
    }
    assert.equal(await sweeper.sweep(), 0, 'a stopped sweeper does nothing');
    await sweeper.stop();
  });

  it('logs a failed sweep and carries on', async () => {
    const log = memoryLogger();
    const broken: EventSink = { ...sink, description: 'a broken sink', list: () => Promise.reject(new Error('database is locked')) };
    const sweeper = startEventSweeper({ sink: broken, ttlSeconds: 1, intervalMs: 60_000, logger: log });
    try {
      assert.equal(await sweeper.sweep(), 0);
      assert.ok(log.lines.includes('ERROR events: sweep of a broken sink failed: database is locked'), log.lines.join('\n'));
    } finally {
      await sweeper.stop();
    }
    assert.throws(() => startEventSweeper({ sink, ttlSeconds: 0 }), /ttlSeconds must be positive/);
  });
});
