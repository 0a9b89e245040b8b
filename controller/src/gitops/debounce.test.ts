import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Debouncer } from './debounce.js';
import { sleep } from './testutil.js';

test('a burst fires once, after the quiet period', async () => {
  const fired: number[] = [];
  const t0 = Date.now();
  const d = new Debouncer(() => fired.push(Date.now() - t0), 150, 5_000);
  for (let i = 0; i < 5; i++) {
    d.trigger();
    await sleep(30);
  }
  assert.equal(d.pending, true);
  await sleep(400);
  assert.equal(fired.length, 1);
  assert.ok(fired[0]! >= 150 + 4 * 30 - 10, `fired at ${fired[0]} ms`);
  assert.equal(d.pending, false);
});

test('a burst that never pauses still fires every maxWait', async () => {
  let fired = 0;
  const d = new Debouncer(() => fired++, 100, 250);
  const end = Date.now() + 900;
  while (Date.now() < end) {
    d.trigger();
    await sleep(20);
  }
  d.cancel();
  assert.ok(fired >= 3 && fired <= 4, `fired ${fired} times in 900 ms`);
});

test('cancel drops a pending fire', async () => {
  let fired = 0;
  const d = new Debouncer(() => fired++, 50, 1_000);
  d.trigger();
  d.cancel();
  await sleep(150);
  assert.equal(fired, 0);
});
