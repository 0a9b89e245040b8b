// Informer behaviour that depends on how a source misbehaves — sources scripted to fail in a
// given way. The behaviour over real sources is in informer-store and informer-http.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { GoneError } from './errors.js';
import { Informer } from './informer.js';
import { memoryLogger } from './log.js';
import type { ListerWatcher, RuntimeObject, WatchEvent } from './types.js';

const obj = (name: string, rv: string): RuntimeObject => ({ kind: 'Image', metadata: { name, resourceVersion: rv } });

/** A source whose watch calls run `script(n)` — the n-th watch — for its events or error. */
function scripted(items: RuntimeObject[], script: (n: number, signal: AbortSignal) => AsyncIterable<WatchEvent>) {
  const calls = { list: 0, watch: 0, watchedAt: [] as number[] };
  const lw: ListerWatcher = {
    description: 'scripted',
    async list() {
      calls.list++;
      return { items, resourceVersion: '1' };
    },
    watch(_rv, signal) {
      calls.watch++;
      calls.watchedAt.push(performance.now());
      return script(calls.watch, signal);
    },
  };
  return { lw, calls };
}

async function* quiet(signal: AbortSignal): AsyncGenerator<WatchEvent> {
  await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
}

test('cluster-scoped objects are keyed by name', async (t) => {
  const { lw } = scripted([obj('debian', '1')], (_n, s) => quiet(s));
  const informer = new Informer({ listerWatcher: lw });
  t.after(() => informer.stop());
  informer.start();
  await informer.waitForSync();
  assert.deepEqual(informer.keys(), ['debian']);
  assert.equal(informer.list('').length, 1);
});

test('a watch that keeps failing at once is retried with growing delays, not in a hot loop', async (t) => {
  const log = memoryLogger();
  const { lw, calls } = scripted([], () => {
    throw new Error('connection refused');
  });
  const informer = new Informer({ listerWatcher: lw, logger: log, backoff: { initialMs: 10, maxMs: 80 } });
  t.after(() => informer.stop());
  informer.start();
  await delay(400);
  // 10+20+40+80+80… ms: about 6 tries in 400 ms; a hot loop would make thousands.
  assert.ok(calls.watch >= 3 && calls.watch <= 10, `${calls.watch} watch attempts`);
  const gaps = calls.watchedAt.slice(1).map((t, i) => t - calls.watchedAt[i]!);
  [10, 20, 40, 80].forEach((min, i) => gaps[i] !== undefined && assert.ok(gaps[i]! >= min - 2, `gap ${i}: ${gaps[i]} >= ${min}`));
  assert.match(log.lines.filter((l) => !l.startsWith('DEBUG'))[0]!, /^WARN informer scripted: watch failed at rv 1: connection refused; retry in 10 ms$/);
});

test('a watch that closes at once without events backs off too', async (t) => {
  const { lw, calls } = scripted([], async function* () {});
  const informer = new Informer({ listerWatcher: lw, backoff: { initialMs: 20, maxMs: 100 } });
  t.after(() => informer.stop());
  informer.start();
  await delay(300);
  assert.ok(calls.watch >= 2 && calls.watch <= 8, `${calls.watch} watch attempts`);
});

test('a 410 re-lists at once; a 410 again straight after the re-list backs off', async (t) => {
  const { lw, calls } = scripted([obj('a', '1')], () => {
    throw new GoneError('too old resource version');
  });
  const informer = new Informer({ listerWatcher: lw, backoff: { initialMs: 20, maxMs: 100 } });
  t.after(() => informer.stop());
  informer.start();
  await delay(300);
  assert.ok(calls.list >= 2 && calls.list <= 8, `${calls.list} lists`);
  assert.equal(calls.list, calls.watch, 'every 410 led to a re-list');
});

test('a throwing handler is logged and neither stops the informer nor the other handlers', async (t) => {
  const log = memoryLogger();
  const { lw } = scripted([], async function* (n, signal) {
    if (n > 1) return yield* quiet(signal);
    yield { type: 'ADDED', object: obj('a', '2') };
    yield { type: 'ADDED', object: obj('b', '3') };
    yield* quiet(signal);
  });
  const informer = new Informer({ listerWatcher: lw, logger: log });
  t.after(() => informer.stop());
  const good: string[] = [];
  informer.addEventHandler({
    onAdd: (o) => {
      throw new Error(`cannot ${o.metadata.name}`);
    },
  });
  informer.addEventHandler({ onAdd: (o) => good.push(o.metadata.name) });
  informer.start();
  while (informer.resourceVersion !== '3') await delay(5);
  assert.deepEqual(good, ['a', 'b']);
  assert.deepEqual(log.lines.filter((l) => !l.startsWith('DEBUG')), ['ERROR informer scripted: onAdd handler for a threw: cannot a', 'ERROR informer scripted: onAdd handler for b threw: cannot b']);
});

test('periodic resync redelivers every cached object as an update to itself', async (t) => {
  const { lw } = scripted([obj('a', '1'), obj('b', '1')], (_n, s) => quiet(s));
  const informer = new Informer({ listerWatcher: lw, resyncPeriodMs: 30 });
  t.after(() => informer.stop());
  const updates: string[] = [];
  informer.addEventHandler({
    onUpdate: (old, cur) => {
      assert.equal(old, cur);
      updates.push(cur.metadata.name);
    },
  });
  informer.start();
  while (updates.length < 4) await delay(10);
  assert.deepEqual(updates.slice(0, 4).sort(), ['a', 'a', 'b', 'b']);
});

test('waitForSync honours an abort signal; a stopped informer cannot restart', async () => {
  const { lw } = scripted([], (_n, s) => quiet(s));
  const informer = new Informer({ listerWatcher: lw });
  const ac = new AbortController();
  const waiting = informer.waitForSync({ signal: ac.signal });
  ac.abort();
  await assert.rejects(waiting, /aborted/);
  await informer.stop();
  assert.throws(() => informer.start(), /cannot restart/);
  await assert.rejects(informer.waitForSync(), /stopped before sync/);
});
