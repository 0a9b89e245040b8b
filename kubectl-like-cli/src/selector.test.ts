import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matchLabels } from './selector.js';

test('label selectors as the server evaluates them', () => {
  const l = { app: 'web', tier: 'front' };
  const yes = ['app=web', 'app==web', 'app!=db', 'app in (web, db)', 'app notin (db)', 'tier', '!missing', 'app=web,tier=front', '', 'missing!=x'];
  const no = ['app=db', 'app!=web', 'app in (db)', 'app notin (web,db)', 'missing', '!tier', 'app=web,tier=back', 'missing=x', 'missing in (x)'];
  for (const s of yes) assert.equal(matchLabels(s, l), true, s);
  for (const s of no) assert.equal(matchLabels(s, l), false, s);
  assert.throws(() => matchLabels('a in (', l), /invalid label selector/);
});
