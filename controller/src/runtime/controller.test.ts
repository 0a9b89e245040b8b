// Controller and Manager lifecycle edges that need no particular source: sync timeouts, stop
// while starting, draining, misuse.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { Controller } from './controller.js';
import { Informer } from './informer.js';
import { memoryLogger } from './log.js';
import { Manager } from './manager.js';
import type { ListerWatcher, RuntimeObject, WatchEvent } from './types.js';

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

function staticSource(items: RuntimeObject[]): ListerWatcher {
  return {
    description: 'static',
    async list() {
      return { items, resourceVersion: '1' };
    },
    async *watch(_rv: string, signal: AbortSignal): AsyncGenerator<WatchEvent> {
      await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
    },
  };
}

const down: ListerWatcher = {
  description: 'down',
  async list() {
    throw new Error('connection refused');
  },
  watch() {
    throw new Error('connection refused');
  },
};

const image = (name: string): RuntimeObject => ({ kind: 'Image', metadata: { name, resourceVersion: '1' } });

test('manager start fails after syncTimeoutMs when a source never lists, and cleans up', async () => {
  const before = timers();
  const log = memoryLogger();
  const manager = new Manager({
    listerWatcher: (r) => (r === 'images' ? staticSource([image('a')]) : down),
    logger: log,
    syncTimeoutMs: 150,
    informerBackoff: { initialMs: 10, maxMs: 50 },
  });
  let reconciled = 0;
  manager.addController({ name: 'img', for: 'images', reconciler: { reconcile: async () => void reconciled++ } });
  manager.addController({ name: 'sess', for: 'sessions', reconciler: { reconcile: async () => {} } });
  await assert.rejects(manager.start(), /informer sessions: not synced after 150 ms/);
  assert.equal(manager.informer('images').hasSynced(), true);
  assert.ok(log.lines.some((l) => l.startsWith('ERROR manager: start failed')));
  await delay(20);
  assert.equal(timers(), before, 'everything stopped');
  assert.equal(reconciled, 0, 'no controller ran on a partial set of caches');
});

test('manager stop while start waits for a sync resolves both', async () => {
  const manager = new Manager({ listerWatcher: () => down, informerBackoff: { initialMs: 10, maxMs: 50 } });
  manager.addController({ name: 'c', for: 'sessions', reconciler: { reconcile: async () => {} } });
  const starting = manager.start();
  await delay(30);
  await manager.stop();
  await starting; // not an error: it was asked to stop
});

test('manager refuses new controllers and informers once started', async () => {
  const manager = new Manager({ listerWatcher: () => staticSource([]) });
  manager.informer('images');
  await manager.start();
  assert.equal(manager.informer('images').hasSynced(), true, 'existing informers stay reachable');
  assert.throws(() => manager.informer('sessions'), /cannot add an informer after start/);
  assert.throws(() => manager.addController({ name: 'x', for: 'images', reconciler: { reconcile: async () => {} } }), /after start/);
  assert.throws(() => manager.add(new Controller({ name: 'y', for: manager.informer('images'), reconciler: { reconcile: async () => {} } })), /after start/);
  await manager.stop();
  await manager.stop(); // idempotent
});

test('a standalone controller: stop with drain finishes the queued keys, signal untouched', async () => {
  const informer = new Informer({ listerWatcher: staticSource(['a', 'b', 'c', 'd'].map(image)) });
  const done: string[] = [];
  let aborted = false;
  const controller = new Controller({
    name: 'imgs',
    for: informer,
    reconciler: {
      async reconcile(key, ctx) {
        await delay(10);
        aborted ||= ctx.signal.aborted;
        done.push(key);
      },
    },
  });
  informer.start();
  await controller.start();
  await assert.rejects(controller.start(), /already started/);
  await controller.stop({ drain: true });
  assert.deepEqual(done, ['a', 'b', 'c', 'd']);
  assert.equal(aborted, false);
  await informer.stop();
  assert.deepEqual(controller.metrics(), { depth: 0, inFlight: 0, waiting: 0, adds: 4, deduplicated: 4, retries: 0, processed: 4, success: 4, requeueAfter: 0, error: 0, terminal: 0 });
});

test('ctx.object is the cached object, undefined for a key that is not cached', async () => {
  const informer = new Informer({ listerWatcher: staticSource([image('present')]) });
  const seen = new Map<string, RuntimeObject | undefined>();
  const controller = new Controller({
    name: 'imgs',
    for: informer,
    reconciler: { reconcile: async (key, ctx) => void seen.set(key, ctx.object) },
  });
  informer.start();
  await controller.start();
  controller.queue.add('absent');
  while (seen.size < 2) await delay(5);
  assert.equal(seen.get('present')?.metadata.name, 'present');
  assert.equal(seen.get('absent'), undefined);
  await controller.stop();
  await informer.stop();
});
