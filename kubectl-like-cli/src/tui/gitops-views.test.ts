// The GitOps view's drawing: the table fits 80 columns with a long name, a long error message
// wraps under its file without losing a word, orphans are listed.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GitOpsSync } from '@sandkasten/api-schemas';
import { gitopsDetailsLines, gitopsTableLines } from './gitops-views.js';
import type { Line } from './format.js';

const text = (l: Line) => l.map((s) => s.text).join('');
const NOW = Date.parse('2025-01-01T00:10:00Z');

function sync(name: string, status: GitOpsSync['status']): GitOpsSync {
  return { apiVersion: 'sandkasten.dev/v1', kind: 'GitOpsSync', metadata: { name }, spec: { path: '/srv/m', prune: false }, status };
}

test('the table: every column kept at 80 columns, a long name cut with …, failures in red', () => {
  const g = sync('a-very-long-directory-name-for-manifests-0123abcd', {
    conditions: [{ type: 'Synced', status: 'False' }],
    applied: 12,
    pruned: 3,
    failed: 2,
    shortCommit: '3f2a1bc',
    lastSyncTime: '2025-01-01T00:09:48Z',
  });
  const t = gitopsTableLines([g, sync('b', undefined)], 80, 0, NOW);
  assert.match(text(t.header), /^NAME +SYNCED +APPLIED +PRUNED +FAILED +COMMIT +LAST SYNC$/);
  const row = text(t.rows[0]!);
  assert.ok(row.length <= 80, row);
  assert.match(row, /^a-very-long-directory-\S*… +False +12 +3 +2 +3f2a1bc +12s +$/);
  assert.equal(row.length, text(t.header).length, 'the row lines up with the header');
  assert.equal(t.rows[0]!.find((s) => s.text.trim() === 'False')?.color, 'red');
  assert.ok(t.rows[0]!.every((s) => s.inverse), 'the selected row is inverse');
  assert.match(text(t.rows[1]!), /^b +Unknown +$/, 'before the first sync');
});

test('details: a long message wraps at a space under its file; orphans are listed', () => {
  const message = `spec.network.mode: Unsupported value: "bridge": supported values: "none", "host", "isolated" ${'word '.repeat(12)}end`;
  const g = sync('m-1', {
    failed: 1,
    errors: [{ file: 'dir/a.yaml', document: 2, field: 'spec.network.mode', message }],
    orphaned: 1,
    orphans: [{ kind: 'Session', namespace: 'default', name: 'old', file: 'old.yaml' }],
  });
  const lines = gitopsDetailsLines(g, [], 80, NOW).map(text);
  const at = lines.indexOf('  dir/a.yaml  document 2  field spec.network.mode');
  assert.ok(at > 0, lines.join('\n'));
  const wrapped: string[] = [];
  for (let i = at + 1; lines[i]!.startsWith('    '); i++) wrapped.push(lines[i]!);
  assert.ok(wrapped.length >= 2);
  for (const l of wrapped) assert.ok(l.length <= 80, l);
  assert.equal(wrapped.map((l) => l.trim()).join(' '), message);
  assert.ok(lines.includes('Orphans (1: no longer declared, kept because prune is off)'));
  assert.ok(lines.some((l) => /^ {2}Session +default +old +old\.yaml$/.test(l)));
  assert.ok(lines.includes('Git:        not a git checkout'));
});
