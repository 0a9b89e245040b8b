// The TUI's pure parts: the table fitted to 80 columns, kubectl-top figures, terminal output made
// drawable, CPU from two stats readings, and the details view's content.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Event, Session } from '@sandkasten/client';
import { SESSION_COLUMNS, fitColumns, formatBytes, formatCpu, outputLines, sessionCells, truncate } from './format.js';
import { cpuMillicores } from './stats.js';
import { detailsLines, execLines, tableLines } from './views.js';
import type { Line } from './format.js';

const text = (l: Line) => l.map((s) => s.text).join('');

function session(name: string, extra: Partial<Session['status']> = {}, ns = 'default'): Session {
  return {
    apiVersion: 'sandkasten.dev/v1',
    kind: 'Session',
    metadata: { name, namespace: ns, uid: `uid-${name}`, creationTimestamp: new Date(Date.now() - 65_000).toISOString() },
    spec: { image: 'base', resources: { cpu: '500m', memory: '256Mi' } },
    status: { phase: 'Ready', ...extra },
  };
}

test('the table fits 80 columns: long names and images are cut with …, PHASE, AGE, CPU, MEMORY never', () => {
  const s = [session('a-very-long-session-name-that-goes-on-and-on-forever'), session('b')];
  s[0]!.spec!.image = 'registry.example.com/some/deeply/nested/image:with-a-long-tag';
  const t = tableLines(s, () => ({ cpuMillicores: 12.4, memoryBytes: 3 * 1024 * 1024 }), 80, 1);
  for (const l of [t.header, ...t.rows]) assert.ok(text(l).length <= 80, `${text(l).length}: ${text(l)}`);
  assert.match(text(t.header), /^NAME +NAMESPACE +PHASE +IMAGE +AGE +CPU +MEMORY$/);
  assert.match(text(t.rows[0]!), /^a-very-long-session-\S*… +default +Ready +registry\.\S*… +65s +12m +3Mi$/);
  assert.ok(t.rows[1]!.every((seg) => seg.inverse), 'the selected row is drawn inverse');
  assert.ok(!t.rows[0]!.some((seg) => seg.inverse));
  assert.equal(t.rows[0]!.find((seg) => seg.text.trim() === 'Ready')?.color, 'green');
});

test('columns shrink widest first, then everything is cut on a very narrow terminal', () => {
  const rows = [sessionCells(session('x'.repeat(40)), { cpu: '5m', memory: '1Mi' })];
  const w = fitColumns(SESSION_COLUMNS, rows, 80);
  assert.ok(w.reduce((a, b) => a + b, 0) + 2 * (w.length - 1) <= 80);
  assert.equal(w[2], 'PHASE'.length, 'fixed columns keep their width');
  const narrow = fitColumns(SESSION_COLUMNS, rows, 30);
  assert.ok(narrow.reduce((a, b) => a + b, 0) + 2 * (narrow.length - 1) <= 30);
  assert.equal(truncate('abcdef', 4), 'abc…');
  assert.equal(truncate('abc', 3), 'abc');
});

test('a session being deleted reads Terminating; phases have colours', () => {
  const s = session('t');
  s.metadata.deletionTimestamp = new Date().toISOString();
  const t = tableLines([s, session('f', { phase: 'Failed' })], () => undefined, 80, -1);
  assert.match(text(t.rows[0]!), /Terminating/);
  assert.equal(t.rows[0]!.find((seg) => seg.text.trim() === 'Terminating')?.color, 'magenta');
  assert.equal(t.rows[1]!.find((seg) => seg.text.trim() === 'Failed')?.color, 'red');
});

test('CPU and memory as kubectl top prints them', () => {
  assert.equal(formatCpu(undefined), '');
  assert.equal(formatCpu(0.3), '0m');
  assert.equal(formatCpu(1250.6), '1251m');
  assert.equal(formatBytes(512), '512');
  assert.equal(formatBytes(580 * 1024), '580Ki');
  assert.equal(formatBytes(1.25 * 1024 * 1024), '1.3Mi');
  assert.equal(formatBytes(512 * 1024 * 1024), '512Mi');
  assert.equal(formatBytes(2 * 1024 ** 3), '2Gi');
  assert.equal(formatBytes(null), '');
});

test('CPU is the usage difference over the time difference of two readings', () => {
  const a = { timestamp: '2026-01-01T00:00:00.000Z', cpu: { usageNanoseconds: 1_000_000_000 } };
  const b = { timestamp: '2026-01-01T00:00:02.000Z', cpu: { usageNanoseconds: 1_500_000_000 } };
  assert.equal(cpuMillicores(a, b), 250, '0.5 s of CPU in 2 s is a quarter core');
  assert.equal(cpuMillicores(undefined, b), undefined, 'one reading is not a rate');
  assert.equal(cpuMillicores(b, a), undefined, 'a counter that went back (a new cgroup) is not a rate');
  assert.equal(cpuMillicores(a, { ...a }), undefined, 'no time passed');
});

test('terminal output becomes plain lines: colours dropped, CR overwrites, tabs expanded, CRLF', () => {
  assert.deepEqual(outputLines('\x1b[31mred\x1b[0m\tX\r\nnext'), ['red     X', 'next']);
  assert.deepEqual(outputLines('progress 10%\rprogress 100%\n'), ['progress 100%', '']);
  assert.deepEqual(outputLines('ab\rX'), ['Xb']);
  assert.deepEqual(outputLines('\x1b]0;title\x07bell\x07 and \x1b[2J\x1b[Hclear'), ['bell and clear']);
});

test('the exec transcript: the command, its output, and the exit code in green or red', () => {
  const lines = execLines([
    { command: 'echo hi', output: 'hi\n', result: { exitCode: 0, durationMs: 3.2 } },
    { command: 'false', output: '', result: { exitCode: 1, durationMs: 1 } },
    { command: 'sleep 9', output: 'x', error: 'interrupted' },
  ]);
  assert.deepEqual(lines.map(text), ['$ echo hi', 'hi', 'exit code 0 · 3 ms', '$ false', 'exit code 1 · 1 ms', '$ sleep 9', 'x', 'interrupted']);
  assert.equal(lines[2]![0]!.color, 'green');
  assert.equal(lines[4]![0]!.color, 'red');
});

test('details: summary, spec, usage, the conditions table and the events, oldest first', () => {
  const s = session('d', {
    conditions: [
      { type: 'Ready', status: 'True', reason: 'RunnerReady', message: 'the runner answers', lastTransitionTime: new Date().toISOString() },
      { type: 'ImageReady', status: 'False', reason: 'Pulling', message: 'pulling', lastTransitionTime: new Date().toISOString() },
    ],
  });
  const ev = (reason: string, t: number, type: 'Normal' | 'Warning' = 'Normal'): Event => ({
    apiVersion: 'sandkasten.dev/v1',
    kind: 'Event',
    metadata: { name: `e-${reason}`, namespace: 'default' },
    involvedObject: { apiVersion: 'sandkasten.dev/v1', kind: 'Session', name: 'd', uid: 'uid-d' },
    reason,
    message: `${reason} happened`,
    type,
    count: 1,
    firstTimestamp: new Date(t).toISOString(),
    lastTimestamp: new Date(t).toISOString(),
    source: { component: 'session-controller' },
  });
  const now = Date.now();
  const out = detailsLines(s, [ev('Ready', now - 1000), ev('Creating', now - 5000), ev('Odd', now - 2000, 'Warning')], { cpuMillicores: 7, cpuLimitCores: 0.5, memoryBytes: 2 * 1024 * 1024, memoryLimitBytes: 256 * 1024 * 1024, pids: 3, pidsLimit: 256 }, now);
  const all = out.map(text).join('\n');
  assert.match(all, /^Session: +default\/d +Ready$/m);
  assert.match(all, /^Created: +65s ago$/m);
  assert.match(all, /^Spec: +image base · workspace <none> · network default · ttl default$/m);
  assert.match(all, /^Limits: +cpu 500m · memory 256Mi · pids default$/m);
  assert.match(all, /^Usage: +CPU 7m of 0\.5 cores · memory 2Mi of 256Mi · pids 3 of 256$/m);
  assert.match(all, /^Conditions\n {2}TYPE +STATUS +REASON +AGE +MESSAGE\n {2}Ready +True +RunnerReady +0s +the runner answers\n {2}ImageReady +False +Pulling/m);
  assert.match(all, /^Events\n {2}TYPE +REASON +AGE +FROM +MESSAGE\n {2}Normal +Creating +5s +session-controller +Creating happened\n {2}Warning +Odd +2s .*\n {2}Normal +Ready +1s/m);
  const warn = out.find((l) => text(l).includes('Odd happened'))!;
  assert.equal(warn.find((seg) => seg.text.startsWith('Warning'))?.color, 'yellow');
  assert.match(detailsLines(s, undefined, undefined, now).map(text).join('\n'), /^Events: +loading…$/m);
  assert.match(detailsLines(s, [], undefined, now).map(text).join('\n'), /^Events: +<none>$/m);
});
