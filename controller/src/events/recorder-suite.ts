// The EventRecorder against a real API server, through a given sink (in-process or HTTP): the
// Events it writes are read back through the REST API, as `skctl describe` and kubectl read them.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Event, Image } from '@sandkasten/api-schemas';
import { session, startServer, WatchStream, type TestServer } from '../apiserver/testutil.js';
import { memoryLogger } from '../runtime/log.js';
import type { RuntimeObject } from '../runtime/types.js';
import { EventRecorder, type EventRecorderOptions } from './recorder.js';
import type { SinkFactory } from './sink-conformance.js';
import type { EventSink, SinkResult } from './sink.js';

const T0 = Date.parse('2025-03-01T10:00:00Z');
const EVENTS = '/apis/sandkasten.dev/v1/events';

/** A clock the test moves by hand. */
function fakeClock(start = T0) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

export function recorderSuite(name: string, make: SinkFactory): void {
  describe(`EventRecorder over ${name}`, () => {
    let server: TestServer;
    let sink: EventSink & { close?(): void };
    let dev: RuntimeObject;
    let other: RuntimeObject;
    // Typed as the generated Image: what a reconciler holds must be accepted as it is.
    let image: Image;
    let n = 0;

    before(async () => {
      server = await startServer();
      sink = make(server);
      dev = await created('/apis/sandkasten.dev/v1/namespaces/default/sessions', session('dev'));
      other = await created('/apis/sandkasten.dev/v1/namespaces/team-a/sessions', session('other'));
      image = (await created('/apis/sandkasten.dev/v1/images', {
        apiVersion: 'sandkasten.dev/v1',
        kind: 'Image',
        metadata: { name: 'base' },
        spec: { source: 'builtin://base' },
      })) as unknown as Image;
    });
    after(async () => {
      sink.close?.();
      await server.cleanup();
    });

    async function created(path: string, body: unknown): Promise<RuntimeObject> {
      const r = await server.req('POST', path, body);
      assert.equal(r.status, 201, r.text);
      return r.body as RuntimeObject;
    }

    /** A Session of its own for one test, so tests do not see each other's Events. */
    function fresh(): Promise<RuntimeObject> {
      return created('/apis/sandkasten.dev/v1/namespaces/default/sessions', session(`s${++n}`));
    }

    function recorder(opts: Partial<EventRecorderOptions> = {}): EventRecorder {
      return new EventRecorder({ sink, component: 'session-controller', ...opts });
    }

    async function list(query = ''): Promise<Event[]> {
      const r = await server.req('GET', `${EVENTS}${query}`);
      assert.equal(r.status, 200, r.text);
      return r.body.items as Event[];
    }

    const about = (obj: RuntimeObject | Image) => list(`?fieldSelector=${encodeURIComponent(`involvedObject.uid=${obj.metadata.uid ?? ''}`)}`);

    it('writes an Event with every field set', async () => {
      const clock = fakeClock();
      const rec = recorder({ clock: clock.now });
      rec.event(dev, 'Normal', 'SandboxStarted', 'started sandbox sk-1', { action: 'Start' });
      await rec.flush();
      const [e, ...rest] = await about(dev);
      assert.deepEqual(rest, []);
      assert.match(e!.metadata.name!, /^dev\.[0-9a-f]{16}$/);
      assert.equal(e!.metadata.namespace, 'default');
      assert.deepEqual(e!.involvedObject, {
        apiVersion: 'sandkasten.dev/v1',
        kind: 'Session',
        name: 'dev',
        namespace: 'default',
        uid: dev.metadata.uid,
        resourceVersion: dev.metadata.resourceVersion,
      });
      assert.equal(e!.type, 'Normal');
      assert.equal(e!.reason, 'SandboxStarted');
      assert.equal(e!.message, 'started sandbox sk-1');
      assert.equal(e!.count, 1);
      assert.equal(e!.firstTimestamp, '2025-03-01T10:00:00Z');
      assert.equal(e!.lastTimestamp, '2025-03-01T10:00:00Z');
      assert.deepEqual(e!.source, { component: 'session-controller' });
      assert.equal(e!.reportingComponent, 'session-controller');
      assert.equal(e!.action, 'Start');
      assert.deepEqual(rec.stats, { recorded: 1, written: 1, coalesced: 0, rateLimited: 0, queueFull: 0, invalid: 0, failed: 0 });
    });

    it('counts a repeat on the same Event: count grows, lastTimestamp moves, name and uid stay', async () => {
      const obj = await fresh();
      const clock = fakeClock();
      const rec = recorder({ clock: clock.now });
      rec.event(obj, 'Warning', 'PullFailed', 'registry unreachable');
      await rec.flush();
      const [first] = await about(obj);
      for (let i = 0; i < 3; i++) {
        clock.advance(10_000);
        rec.event(obj, 'Warning', 'PullFailed', 'registry unreachable');
        await rec.flush();
      }
      const events = await about(obj);
      assert.equal(events.length, 1);
      const e = events[0]!;
      assert.equal(e.metadata.name, first!.metadata.name);
      assert.equal(e.metadata.uid, first!.metadata.uid);
      assert.equal(e.count, 4);
      assert.equal(e.firstTimestamp, '2025-03-01T10:00:00Z');
      assert.equal(e.lastTimestamp, '2025-03-01T10:00:30Z');
      assert.ok(Number(e.metadata.resourceVersion) > Number(first!.metadata.resourceVersion));
    });

    it('keeps distinct reasons, types and messages apart', async () => {
      const obj = await fresh();
      const rec = recorder();
      rec.event(obj, 'Normal', 'Scheduled', 'a');
      rec.event(obj, 'Normal', 'Started', 'a');
      rec.event(obj, 'Warning', 'Started', 'a');
      rec.event(obj, 'Normal', 'Started', 'b');
      rec.event(obj, 'Normal', 'Started', 'b');
      await rec.flush();
      const got = (await about(obj)).map((e) => `${e.type} ${e.reason} ${e.message} x${e.count}`).sort();
      assert.deepEqual(got, ['Normal Scheduled a x1', 'Normal Started a x1', 'Normal Started b x2', 'Warning Started a x1']);
      assert.equal(new Set((await about(obj)).map((e) => e.metadata.name)).size, 4);
    });

    it('puts Events about a cluster-scoped object in "default"', async () => {
      const rec = recorder({ component: 'image-controller' });
      rec.event(image, 'Normal', 'Pulled', 'pulled builtin://base');
      await rec.flush();
      const [e] = await about(image);
      assert.equal(e!.metadata.namespace, 'default');
      assert.match(e!.metadata.name!, /^base\.[0-9a-f]{16}$/);
      assert.equal(e!.involvedObject.namespace, undefined);
      assert.equal(e!.involvedObject.kind, 'Image');
    });

    it('rate-limits each object on its own, and still counts what it held back', async () => {
      const obj = await fresh();
      const clock = fakeClock();
      const rec = recorder({ clock: clock.now, burst: 3, refillIntervalMs: 60_000 });
      for (let i = 0; i < 8; i++) {
        rec.event(obj, 'Warning', 'BackOff', 'restarting');
        await rec.flush();
      }
      assert.equal((await about(obj))[0]!.count, 3);
      assert.equal(rec.stats.rateLimited, 5);
      // Another object is not held back by this one.
      rec.event(other, 'Warning', 'BackOff', 'restarting');
      await rec.flush();
      assert.equal((await about(other)).length, 1);
      // A minute later one more write is allowed, and it carries the 5 held back.
      clock.advance(60_000);
      rec.event(obj, 'Warning', 'BackOff', 'restarting');
      await rec.flush();
      const [e] = await about(obj);
      assert.equal(e!.count, 9);
      assert.equal(e!.lastTimestamp, '2025-03-01T10:01:00Z');
      assert.equal(rec.stats.written, 5);
    });

    it('a hot loop cannot flood the store', async () => {
      const obj = await fresh();
      const rec = recorder();
      const start = process.hrtime.bigint();
      for (let i = 0; i < 10_000; i++) rec.event(obj, 'Warning', 'ProbeFailed', `attempt ${i}: connection refused`);
      const perCallUs = Number(process.hrtime.bigint() - start) / 1e3 / 10_000;
      await rec.flush();
      const events = await about(obj);
      // Ten distinct messages, then one Event combining the rest.
      assert.equal(events.length, 11);
      const combined = events.find((e) => e.message.startsWith('(combined from similar events): '))!;
      assert.equal(combined.message, '(combined from similar events): attempt 9999: connection refused');
      assert.equal(combined.count, 9990);
      assert.ok(rec.stats.written <= 11, JSON.stringify(rec.stats));
      assert.ok(perCallUs < 200, `event() took ${perCallUs.toFixed(1)} µs per call`);
      // Distinct reasons are capped by the object's allowance.
      const obj2 = await fresh();
      for (let i = 0; i < 1000; i++) rec.event(obj2, 'Warning', `Reason${i}`, 'x');
      await rec.flush();
      assert.equal((await about(obj2)).length, 25);
      assert.equal(rec.stats.rateLimited, 975);
    });

    it('continues an Event after a restart, after someone changed it, and after it was deleted', async () => {
      const obj = await fresh();
      const clock = fakeClock();
      const a = recorder({ clock: clock.now });
      a.event(obj, 'Normal', 'Ready', 'ready');
      await a.flush();
      // A new recorder knows nothing: it finds the Event by its name.
      const b = recorder({ clock: clock.now });
      b.event(obj, 'Normal', 'Ready', 'ready');
      await b.flush();
      let [e] = await about(obj);
      assert.equal(e!.count, 2);
      // Someone else labels it: the recorder's copy is stale, the update conflicts and is redone.
      const path = `/apis/sandkasten.dev/v1/namespaces/default/events/${e!.metadata.name}`;
      const p = await server.req('PATCH', path, { metadata: { labels: { seen: 'yes' } } }, { 'content-type': 'application/merge-patch+json' });
      assert.equal(p.status, 200, p.text);
      b.event(obj, 'Normal', 'Ready', 'ready');
      await b.flush();
      [e] = await about(obj);
      assert.equal(e!.count, 3);
      // Deleted (the sweeper): the next occurrence starts again at 1.
      assert.equal((await server.req('DELETE', path)).status, 200);
      clock.advance(5_000);
      b.event(obj, 'Normal', 'Ready', 'ready');
      await b.flush();
      [e] = await about(obj);
      assert.equal(e!.count, 1);
      assert.equal(e!.firstTimestamp, '2025-03-01T10:00:05Z');
      assert.equal(b.stats.failed, 0);
    });

    it('never throws at the caller: bad input and failed writes are logged', async () => {
      const log = memoryLogger();
      const failing: EventSink = {
        ...sink,
        description: 'failing',
        create: (): Promise<SinkResult> => Promise.reject(new Error('disk full')),
      };
      const rec = new EventRecorder({ sink: failing, component: 'session-controller', logger: log });
      const obj = await fresh();
      rec.event(obj, 'Normal', 'Started', 'x');
      rec.event({ metadata: { name: 'no-uid' }, apiVersion: 'sandkasten.dev/v1', kind: 'Session' }, 'Normal', 'Started', 'x');
      rec.event(obj, 'Normal', 'not camel', 'x');
      rec.event(obj, 'Error' as 'Normal', 'Started', 'x');
      rec.event(undefined as unknown as RuntimeObject, 'Normal', 'Started', 'x');
      await rec.flush();
      assert.deepEqual(rec.stats, { recorded: 5, written: 0, coalesced: 0, rateLimited: 0, queueFull: 0, invalid: 4, failed: 1 });
      assert.ok(log.lines.some((l) => /^ERROR event default\/s\d+\.[0-9a-f]{16} Started: not written: disk full$/.test(l)), log.lines.join('\n'));
      assert.ok(log.lines.some((l) => /no metadata\.uid/.test(l)));
      assert.ok(log.lines.some((l) => /reason "not camel" is not a CamelCase word/.test(l)));
      assert.deepEqual(await about(obj), []);
    });

    it('drops what does not fit in the queue, and writes nothing after close', async () => {
      const obj = await fresh();
      const rec = recorder({ queueSize: 3 });
      for (let i = 0; i < 10; i++) rec.event(obj, 'Normal', `Step${i}`, 'x');
      await rec.close();
      assert.equal((await about(obj)).length, 3);
      assert.equal(rec.stats.queueFull, 7);
      rec.event(obj, 'Normal', 'AfterClose', 'x');
      await rec.flush();
      assert.equal((await about(obj)).length, 3);
    });

    it('cuts long messages to the schema limit', async () => {
      const obj = await fresh();
      const rec = recorder();
      rec.event(obj, 'Warning', 'Failed', 'x'.repeat(10_000));
      await rec.flush();
      const [e] = await about(obj);
      assert.equal(e!.message.length, 4096);
      assert.ok(e!.message.endsWith('...'));
    });

    it("streams an object's Events to a watch selecting it", async () => {
      const obj = await fresh();
      const unrelated = await fresh();
      const w = await WatchStream.open(server, `${EVENTS}?watch=1&fieldSelector=${encodeURIComponent(`involvedObject.uid=${obj.metadata.uid}`)}`);
      try {
        const rec = recorder();
        rec.event(unrelated, 'Normal', 'Unrelated', 'x');
        rec.event(obj, 'Normal', 'Pulling', 'pulling');
        await rec.flush();
        rec.event(obj, 'Normal', 'Pulling', 'pulling');
        await rec.flush();
        const a = await w.next();
        const b = await w.next();
        assert.deepEqual([a.type, a.object.reason, a.object.count], ['ADDED', 'Pulling', 1]);
        assert.deepEqual([b.type, b.object.reason, b.object.count], ['MODIFIED', 'Pulling', 2]);
        assert.equal(w.events.length, 2);
      } finally {
        w.close();
      }
    });

    it('is what field selectors on involvedObject, reason and type find', async () => {
      const rec = recorder();
      rec.event(other, 'Normal', 'Scheduled', 'x');
      rec.event(other, 'Warning', 'Failed', 'y');
      await rec.flush();
      const names = async (q: string) => (await list(`?fieldSelector=${encodeURIComponent(q)}`)).map((e) => `${e.involvedObject.name}/${e.reason}`).sort();
      assert.deepEqual(await names('involvedObject.name=other,type=Warning'), ['other/BackOff', 'other/Failed']);
      assert.deepEqual(await names('involvedObject.name=other,reason=Scheduled'), ['other/Scheduled']);
      assert.deepEqual(await names('involvedObject.kind=Image'), ['base/Pulled']);
      assert.deepEqual(await names('involvedObject.namespace=,involvedObject.name=base'), ['base/Pulled']);
      assert.deepEqual(await names(`involvedObject.uid=${other.metadata.uid},type!=Warning`), ['other/Scheduled']);
      assert.deepEqual(await names('source.component=image-controller'), ['base/Pulled']);
      const ns = await server.req('GET', `/apis/sandkasten.dev/v1/namespaces/team-a/events?fieldSelector=involvedObject.name%3Dother`);
      assert.deepEqual(ns.body.items.map((e: Event) => e.reason).sort(), ['BackOff', 'Failed', 'Scheduled']);
      const bad = await server.req('GET', `${EVENTS}?fieldSelector=involvedObject.fieldPath%3Dx`);
      assert.equal(bad.status, 400);
      assert.equal(bad.body.message, 'field label not supported: involvedObject.fieldPath');
      // Other kinds keep to metadata.name and metadata.namespace.
      const ses = await server.req('GET', '/apis/sandkasten.dev/v1/sessions?fieldSelector=involvedObject.name%3Ddev');
      assert.equal(ses.status, 400);
    });
  });
}
