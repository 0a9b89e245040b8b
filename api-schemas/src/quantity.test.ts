import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, parseCpu, parseQuantity } from './quantity.js';

test('parseQuantity converts Kubernetes byte quantities', () => {
  const cases: [string | number, number][] = [
    ['512Mi', 512 * 1024 * 1024],
    ['1Gi', 2 ** 30],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['4Ki', 4096],
    ['1k', 1000],
    ['1M', 1e6],
    ['2G', 2e9],
    ['1T', 1e12],
    ['1P', 1e15],
    ['7Pi', 7 * 2 ** 50],
    ['1e3', 1000],
    ['1E3', 1000],
    ['1.5', 2],
    ['0', 0],
    ['.5Ki', 512],
    ['1048576', 1048576],
    [1048576, 1048576],
    [0, 0],
  ];
  for (const [q, bytes] of cases) assert.equal(parseQuantity(q), bytes, String(q));
});

test('parseQuantity refuses what the schema refuses, with a usable message', () => {
  for (const bad of ['', 'abc', '512MB', '512mi', '-1', '1.2.3', '1 Gi', '500m', 'Mi', 1.5, -1, NaN]) {
    assert.throws(() => parseQuantity(bad), (e: unknown) => e instanceof RangeError && e.message.startsWith(`Invalid value: ${typeof bad === 'string' ? JSON.stringify(bad) : String(bad)}`), String(bad));
  }
  // Beyond 2^53 bytes (8 PiB) a JS number is no longer exact: refused rather than rounded.
  assert.throws(() => parseQuantity('1E'), /too large/);
  assert.throws(() => parseQuantity('100Ei'), /too large/);
});

test('parseCpu converts CPU quantities', () => {
  const cases: [string | number, number][] = [
    ['500m', 0.5],
    ['250m', 0.25],
    ['1m', 0.001],
    ['0.5', 0.5],
    ['2', 2],
    ['1.5', 1.5],
    ['0', 0],
    ['0.0001', 0.001],
    ['0.5m', 0.001],
    [0.5, 0.5],
    [4, 4],
  ];
  for (const [q, cpus] of cases) assert.equal(parseCpu(q), cpus, String(q));
  for (const bad of ['', 'abc', '500M', '1Gi', '-1', '1e3', -0.5, Infinity]) {
    assert.throws(() => parseCpu(bad), RangeError, String(bad));
  }
});

test('formatBytes prints short binary quantities', () => {
  assert.equal(formatBytes(0), '0');
  assert.equal(formatBytes(1000), '1000');
  assert.equal(formatBytes(1024), '1Ki');
  assert.equal(formatBytes(512 * 2 ** 20), '512Mi');
  assert.equal(formatBytes(1.5 * 2 ** 30), '1.5Gi');
  assert.equal(formatBytes(123.4 * 2 ** 20), '123Mi');
});
