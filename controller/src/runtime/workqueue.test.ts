import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { WorkQueue, backoffDelay } from './workqueue.js';

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

/** Resolves with the next key, or 'timeout' if none arrives within ms (leaving no getter behind). */
async function getWithin(q: WorkQueue, ms: number): Promise<string | undefined | 'timeout'> {
  // Not AbortSignal.timeout: its timer is unref'd and would let the test's event loop run dry.
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  const key = await q.get(ac.signal);
  clearTimeout(timer);
  return key === undefined && ac.signal.aborted ? 'timeout' : key;
}

test('a key added while queued is queued once, in FIFO order', async () => {
  const q = new WorkQueue();
  for (const k of ['a', 'b', 'a', 'c', 'b', 'a']) q.add(k);
  assert.equal(q.length, 3);
  assert.deepEqual(q.metrics(), { depth: 3, inFlight: 0, waiting: 0, adds: 3, deduplicated: 3, retries: 0, processed: 0 });
  assert.equal(await q.get(), 'a');
  assert.equal(await q.get(), 'b');
  assert.equal(await q.get(), 'c');
  assert.equal(q.metrics().inFlight, 3);
  for (const k of ['a', 'b', 'c']) q.done(k);
  await q.shutdown();
});

test('a key added while processing is not handed out again until done, then re-queued once', async () => {
  const q = new WorkQueue();
  q.add('a');
  const key = await q.get();
  assert.equal(key, 'a');
  q.add('a');
  q.add('a');
  assert.equal(q.length, 0, 'not queued while a worker holds it');
  assert.equal(await getWithin(q, 30), 'timeout');
  q.done('a');
  assert.equal(q.length, 1);
  assert.equal(await q.get(), 'a');
  q.done('a');
  assert.equal(q.length, 0, 'done without a new add does not re-queue');
  await q.shutdown();
});

test('a getter waiting on an empty queue is woken by add', async () => {
  const q = new WorkQueue();
  const pending = q.get();
  setTimeout(() => q.add('x'), 10);
  assert.equal(await pending, 'x');
  q.done('x');
  await q.shutdown();
});

test('several workers never process one key at once and lose no add', async () => {
  const q = new WorkQueue();
  const workers = 4;
  const keys = Array.from({ length: 12 }, (_, i) => `ns/k${i}`);
  const inFlight = new Map<string, number>();
  const lastAdd = new Map<string, number>();
  const lastStart = new Map<string, number>();
  let seq = 0;
  let concurrent = 0;
  let maxConcurrent = 0;
  let violations = 0;

  q.run(async (key) => {
    lastStart.set(key, ++seq);
    const n = (inFlight.get(key) ?? 0) + 1;
    inFlight.set(key, n);
    if (n > 1) violations++;
    maxConcurrent = Math.max(maxConcurrent, ++concurrent);
    await delay(Math.random() * 3);
    concurrent--;
    inFlight.set(key, n - 1);
  }, workers);

  for (let round = 0; round < 40; round++) {
    for (let i = 0; i < 10; i++) {
      const key = keys[Math.floor(Math.random() * keys.length)]!;
      lastAdd.set(key, ++seq);
      q.add(key);
    }
    await delay(Math.random() * 2);
  }
  while (q.length > 0 || q.metrics().inFlight > 0) await delay(5);

  assert.equal(violations, 0, 'one key was processed twice at once');
  assert.ok(maxConcurrent > 1, `workers ran concurrently (max ${maxConcurrent})`);
  assert.ok(maxConcurrent <= workers);
  for (const [key, added] of lastAdd) {
    assert.ok((lastStart.get(key) ?? 0) > added, `${key}: its last add was followed by a reconcile`);
  }
  const m = q.metrics();
  assert.ok(m.processed < 400, `de-duplication merged adds (${m.processed} of 400 processed)`);
  await q.shutdown();
});

test('backoff doubles from 5 ms to the 5 min cap, per key, and forget resets it', async () => {
  const q = new WorkQueue();
  const seen: number[] = [];
  for (let i = 0; i < 20; i++) seen.push(q.addRateLimited('a'));
  assert.deepEqual(seen.slice(0, 6), [5, 10, 20, 40, 80, 160]);
  assert.equal(seen[15], 163_840);
  assert.equal(seen[16], 300_000);
  assert.equal(seen[19], 300_000);
  assert.equal(q.numRequeues('a'), 20);
  assert.equal(q.addRateLimited('b'), 5, 'backoff is per key');
  q.forget('a');
  assert.equal(q.numRequeues('a'), 0);
  assert.equal(q.addRateLimited('a'), 5);
  assert.equal(q.metrics().retries, 22);
  assert.equal(backoffDelay(2000, 5, 300_000), 300_000, 'no overflow past the cap');
  await q.shutdown();
});

test('failed keys come back no sooner than their backoff, later failures later', async () => {
  const q = new WorkQueue({ baseDelayMs: 20, maxDelayMs: 1000 });
  const at: number[] = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  q.run(async (key) => {
    at.push(performance.now());
    if (at.length < 5) q.addRateLimited(key);
    else done();
  }, 2);
  q.add('k');
  await finished;
  const gaps = at.slice(1).map((t, i) => t - at[i]!);
  // Timers may fire up to ~1 ms early against performance.now(); never earlier than that.
  [20, 40, 80, 160].forEach((min, i) => assert.ok(gaps[i]! >= min - 2, `gap ${i} = ${gaps[i]!.toFixed(1)} ms >= ${min}`));
  await q.shutdown();
});

test('addAfter delays a key; an earlier deadline replaces a later one, not the reverse', async () => {
  const q = new WorkQueue();
  const t0 = performance.now();
  q.addAfter('a', 40);
  assert.equal(q.metrics().waiting, 1);
  assert.equal(q.length, 0);
  assert.equal(await q.get(), 'a');
  assert.ok(performance.now() - t0 >= 38, 'not before its delay');
  q.done('a');

  q.addAfter('b', 60_000);
  q.addAfter('b', 20); // earlier: replaces
  assert.equal(await getWithin(q, 5_000), 'b');
  q.done('b');

  q.addAfter('c', 20);
  q.addAfter('c', 60_000); // later: ignored
  assert.equal(await getWithin(q, 5_000), 'c');
  q.done('c');
  assert.equal(q.metrics().waiting, 0);

  q.addAfter('d', 0); // no delay: immediate
  assert.equal(q.length, 1);
  await q.shutdown();
});

test('shutdown without drain drops queued keys, waits for in-flight ones, clears timers', async () => {
  const before = timers();
  const q = new WorkQueue();
  const processed: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  q.run(async (key) => {
    processed.push(key);
    if (key === 'a') await gate;
  }, 1);
  q.add('a');
  await delay(5);
  q.add('b');
  q.add('c');
  q.addAfter('later', 60_000);
  q.addRateLimited('failed');
  assert.equal(timers(), before + 2);

  let shutDown = false;
  const stopping = q.shutdown().then(() => (shutDown = true));
  await delay(20);
  assert.equal(shutDown, false, 'waits for the in-flight reconcile');
  assert.equal(timers(), before, 'parked keys no longer hold timers');
  release();
  await stopping;
  assert.deepEqual(processed, ['a']);
  q.add('after');
  assert.equal(q.length, 0, 'adds after shutdown are ignored');
  assert.equal(await q.get(), undefined);
});

test('shutdown with drain processes every queued key, including ones dirtied in flight', async () => {
  const q = new WorkQueue();
  const processed: string[] = [];
  q.run(async (key) => {
    processed.push(key);
    await delay(5);
  }, 2);
  for (const k of ['a', 'b', 'c', 'd', 'e']) q.add(k);
  await delay(1);
  q.add('a'); // a is in flight: dirty, re-queued when done
  await q.shutdown({ drain: true });
  assert.deepEqual([...processed].sort(), ['a', 'a', 'b', 'c', 'd', 'e']);
  assert.equal(q.metrics().inFlight, 0);
});

test('a throwing handler is reported and its key released', async () => {
  const errors: string[] = [];
  const q = new WorkQueue({ onHandlerError: (key, err) => errors.push(`${key}: ${(err as Error).message}`) });
  let calls = 0;
  q.run(async () => {
    calls++;
    throw new Error('boom');
  });
  q.add('x');
  while (calls < 1 || q.metrics().inFlight > 0) await delay(2);
  q.add('x');
  while (calls < 2 || q.metrics().inFlight > 0) await delay(2);
  assert.deepEqual(errors, ['x: boom', 'x: boom']);
  await q.shutdown();
});

test('invalid options are rejected clearly', () => {
  assert.throws(() => new WorkQueue({ baseDelayMs: 0 }), /baseDelayMs/);
  assert.throws(() => new WorkQueue({ baseDelayMs: 10, maxDelayMs: 5 }), /maxDelayMs/);
  assert.throws(() => new WorkQueue().run(async () => {}, 0), /workers/);
});
