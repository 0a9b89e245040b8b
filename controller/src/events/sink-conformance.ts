// One suite for every EventSink: against a real API server over a real store, the in-process
// sink and the HTTP sink must create, read, update, list and delete Events with the same results
// — the API's validation, resourceVersions and conflicts.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Event } from '@sandkasten/api-schemas';
import { startServer, type TestServer } from '../apiserver/testutil.js';
import type { EventSink } from './sink.js';

export type SinkFactory = (server: TestServer) => EventSink & { close?(): void };

export function event(namespace: string, name: string, over: Partial<Event> = {}): Event {
  return {
    apiVersion: 'sandkasten.dev/v1',
    kind: 'Event',
    metadata: { name, namespace },
    involvedObject: { apiVersion: 'sandkasten.dev/v1', kind: 'Session', name: 'dev', namespace, uid: `uid-${namespace}` },
    reason: 'SandboxStarted',
    message: 'started',
    type: 'Normal',
    count: 1,
    firstTimestamp: '2025-03-01T10:00:00Z',
    lastTimestamp: '2025-03-01T10:00:00Z',
    source: { component: 'test' },
    ...over,
  };
}

export function sinkConformance(name: string, make: SinkFactory): void {
  describe(`EventSink conformance: ${name}`, () => {
    let server: TestServer;
    let sink: EventSink & { close?(): void };
    before(async () => {
      server = await startServer();
      sink = make(server);
    });
    after(async () => {
      sink.close?.();
      await server.cleanup();
    });

    it('creates an Event with server-set metadata, and will not create it twice', async () => {
      const r = await sink.create(event('default', 'dev.a'));
      assert.ok(r.ok);
      assert.match(r.event.metadata.uid ?? '', /^[0-9a-f-]{36}$/);
      assert.match(r.event.metadata.resourceVersion ?? '', /^\d+$/);
      assert.equal(r.event.count, 1);
      assert.deepEqual(await sink.get('default', 'dev.a'), r.event);
      assert.deepEqual(await sink.create(event('default', 'dev.a')), { ok: false, reason: 'AlreadyExists' });
      assert.equal(await sink.get('default', 'absent'), undefined);
      assert.equal(await sink.get('other', 'dev.a'), undefined);
    });

    it('updates only at the current resourceVersion', async () => {
      const cur = (await sink.get('default', 'dev.a'))!;
      const r = await sink.update({ ...cur, count: 2, lastTimestamp: '2025-03-01T10:00:05Z' });
      assert.ok(r.ok);
      assert.equal(r.event.count, 2);
      assert.ok(Number(r.event.metadata.resourceVersion) > Number(cur.metadata.resourceVersion));
      assert.equal(r.event.metadata.uid, cur.metadata.uid);
      assert.deepEqual(await sink.update({ ...cur, count: 3 }), { ok: false, reason: 'Conflict' });
      assert.deepEqual(await sink.update(event('default', 'absent')), { ok: false, reason: 'NotFound' });
    });

    it('rejects an invalid Event with the reason, and unknown fields (strict)', async () => {
      await assert.rejects(sink.create(event('default', 'bad.a', { reason: 'not camel' })), /reason: Invalid value: "not camel"/);
      const elsewhere = { ...event('default', 'x').involvedObject, namespace: 'team-c' };
      await assert.rejects(sink.create(event('team-a', 'bad.b', { involvedObject: elsewhere })), /involvedObject\.namespace: Invalid value: "team-c"/);
      await assert.rejects(sink.create({ ...event('default', 'bad.c'), severity: 'high' } as Event), /unknown field "severity"/);
      assert.equal(await sink.get('default', 'bad.a'), undefined);
    });

    it('lists Events of every namespace', async () => {
      const r = await sink.create(event('team-b', 'dev.b'));
      assert.ok(r.ok);
      const names = (await sink.list()).map((e) => `${e.metadata.namespace}/${e.metadata.name}`).sort();
      assert.deepEqual(names, ['default/dev.a', 'team-b/dev.b']);
    });

    it('deletes only at the current resourceVersion', async () => {
      const cur = (await sink.get('team-b', 'dev.b'))!;
      assert.deepEqual(await sink.delete('team-b', 'dev.b', '1'), { ok: false, reason: 'Conflict' });
      const r = await sink.delete('team-b', 'dev.b', cur.metadata.resourceVersion!);
      assert.ok(r.ok);
      assert.equal(await sink.get('team-b', 'dev.b'), undefined);
      assert.deepEqual(await sink.delete('team-b', 'dev.b', cur.metadata.resourceVersion!), { ok: false, reason: 'NotFound' });
    });

    it('writes what the API then serves', async () => {
      const w = await server.req('GET', '/apis/sandkasten.dev/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Ddev');
      assert.equal(w.status, 200);
      assert.deepEqual(
        w.body.items.map((e: Event) => e.metadata.name),
        ['dev.a'],
      );
    });
  });
}
