// skctl edit with EDITOR set to scripts that rewrite the file.

import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { setup, type Env } from './testutil.js';

let e: Env;
before(async () => {
  e = await setup();
  await e.client.create({ apiVersion: 'sandkasten.dev/v1', kind: 'Workspace', metadata: { name: 'ed' }, spec: { reclaimPolicy: 'Retain' } });
});
after(() => e.cleanup());

/** An editor script: each call runs the next step (a sed program, or "keep") and keeps a copy of what it was shown. */
function editor(name: string, steps: string[]): string {
  const dir = `${e.dir}/${name}`;
  const body = [
    '#!/bin/sh',
    `n=$(cat ${dir}/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${dir}/count`,
    `cp "$1" ${dir}/seen.$n`,
    'case $n in',
    ...steps.map((s, i) => `  ${i + 1}) ${s === 'keep' ? ':' : `sed -i '${s}' "$1"`} ;;`),
    '  *) exit 3 ;;',
    'esac',
  ].join('\n');
  const p = e.write(`${name}/editor.sh`, `${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

test('an edit is saved; the editor saw YAML under the instructions', async () => {
  const ed = editor('ok', ['s/reclaimPolicy: Retain/reclaimPolicy: Delete/']);
  const r = await e.skctl(['edit', 'ws', 'ed'], { env: { EDITOR: ed } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'workspace.sandkasten.dev/ed edited\n');
  assert.equal((await e.client.get('ws', 'ed')).spec?.reclaimPolicy, 'Delete');
  const seen = readFileSync(`${e.dir}/ok/seen.1`, 'utf8');
  assert.match(seen, /^# Please edit the object below\. Lines beginning with a '#' will be ignored,\n/);
  assert.match(seen, /\napiVersion: sandkasten.dev\/v1\nkind: Workspace\nmetadata:\n/);
});

test('invalid input re-opens the editor with the error as comments; the fix is saved', async () => {
  const ed = editor('fix', ['s/reclaimPolicy: Delete/reclaimPolicy: Sometimes/', 's/reclaimPolicy: Sometimes/reclaimPolicy: Retain/']);
  const r = await e.skctl(['edit', 'workspace/ed'], { env: { VISUAL: ed, EDITOR: 'false' } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'workspace.sandkasten.dev/ed edited\n');
  const second = readFileSync(`${e.dir}/fix/seen.2`, 'utf8');
  assert.match(second, /\n# error: Workspace.sandkasten.dev "ed" is invalid:\n#   \* spec.reclaimPolicy: Unsupported value: "Sometimes": supported values: "Retain", "Delete"\n#\n/);
  assert.match(second, /reclaimPolicy: Sometimes/, 'the user\'s text, not the original, is shown again');
  assert.equal((await e.client.get('ws', 'ed')).spec?.reclaimPolicy, 'Retain');
});

test('no change, an emptied file, the same invalid text twice, a syntax error', async () => {
  let r = await e.skctl(['edit', 'ws', 'ed'], { env: { EDITOR: editor('same', ['keep']) } });
  assert.equal(r.code, 0);
  assert.equal(r.stderr, 'Edit cancelled, no changes made.\n');

  r = await e.skctl(['edit', 'ws', 'ed'], { env: { EDITOR: editor('empty', ['/^[^#]/d']) } });
  assert.equal(r.code, 0);
  assert.match(r.stderr, /Edit cancelled, saved file was empty/);

  r = await e.skctl(['edit', 'ws', 'ed'], { env: { EDITOR: editor('twice', ['s/reclaimPolicy: Retain/reclaimPolicy: Bad/', 'keep']) } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Edit cancelled, no valid changes were saved/);
  assert.equal(existsSync(`${e.dir}/twice/seen.3`), false, 'not opened a third time');

  r = await e.skctl(['edit', 'ws', 'ed'], { env: { EDITOR: editor('syntax', ['s/^kind: Workspace/kind: [/', 's/^kind: \\[/kind: Workspace/;s/reclaimPolicy: Retain/reclaimPolicy: Delete/']) } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(readFileSync(`${e.dir}/syntax/seen.2`, 'utf8'), /# The edited file had a syntax error: /);
  assert.equal((await e.client.get('ws', 'ed')).spec?.reclaimPolicy, 'Delete');

  r = await e.skctl(['edit', 'ws', 'ed'], { env: { EDITOR: editor('rename', ['s/^  name: ed$/  name: other/', 'keep']) } });
  assert.equal(r.code, 1);
  assert.match(readFileSync(`${e.dir}/rename/seen.2`, 'utf8'), /# error: the edited object must stay Workspace "ed"/);

  r = await e.skctl(['edit', 'ws', 'ed'], { env: { EDITOR: 'exit 4;' } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /the editor "exit 4;" exited with 4; no changes were made/);
  r = await e.skctl(['edit', 'ws', 'nope'], { env: { EDITOR: 'true' } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /NotFound/);
});
