import assert from 'node:assert/strict';
import { test } from 'node:test';
import { age, humanDuration } from './age.js';

test('humanDuration matches kubectl', () => {
  const s = 1000;
  const m = 60 * s;
  const h = 60 * m;
  const d = 24 * h;
  const cases: [number, string][] = [
    [-5 * s, '<invalid>'],
    [-500, '0s'],
    [0, '0s'],
    [5 * s, '5s'],
    [119 * s, '119s'],
    [2 * m, '2m'],
    [3 * m + 20 * s, '3m20s'],
    [10 * m, '10m'],
    [179 * m, '179m'],
    [3 * h, '3h'],
    [3 * h + 5 * m, '3h5m'],
    [8 * h, '8h'],
    [47 * h, '47h'],
    [2 * d, '2d'],
    [4 * d + 3 * h, '4d3h'],
    [8 * d, '8d'],
    [400 * d, '400d'],
    [730 * d, '2y'],
    [731 * d, '2y1d'],
    [9 * 365 * d, '9y'],
  ];
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms} ms`);
});

test('age of timestamps, past and future', () => {
  const now = Date.parse('2025-01-01T12:00:00Z');
  assert.equal(age('2025-01-01T11:55:00Z', now), '5m');
  assert.equal(age('2025-01-01T12:05:00Z', now), 'in 5m');
  assert.equal(age('2025-01-01T12:00:00.500Z', now), '0s');
  assert.equal(age('not a time', now), 'not a time');
});
