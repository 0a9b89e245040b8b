import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findResourceByKind, findResourceByPlural, resolveResourceName, resources } from './resources.js';
import { KINDS } from './types.js';
import { childSchema, deref, getSchema, schemaId, type SchemaCursor } from './schemas.js';

test('one resource per kind, with Kubernetes naming', () => {
  assert.deepEqual(resources.map((r) => r.kind).sort(), [...KINDS].sort());
  for (const r of resources) {
    assert.equal(r.listKind, `${r.kind}List`);
    assert.equal(r.singular, r.kind.toLowerCase());
    assert.equal(r.plural, `${r.singular}s`);
    assert.ok(r.subresources.includes('status'));
    assert.ok(r.verbs.includes('watch') && r.verbs.includes('patch'));
    assert.equal(findResourceByPlural(r.plural), r);
    assert.equal(findResourceByKind(r.kind), r);
  }
  assert.equal(findResourceByPlural('Sessions'), undefined);
  assert.equal(findResourceByKind('session'), undefined);
  assert.equal(findResourceByKind('Pod'), undefined);
  assert.equal(findResourceByKind('Session')?.namespaced, true);
  assert.equal(findResourceByKind('Workspace')?.namespaced, true);
  assert.equal(findResourceByKind('Image')?.namespaced, false);
  assert.throws(() => (findResourceByKind('Session')?.shortNames as string[]).push('s'), TypeError);
  assert.throws(() => (findResourceByKind('Image')?.verbs as string[]).pop(), TypeError);
});

test('short names and names resolve as kubectl resolves them', () => {
  const cases: [string, string | undefined][] = [
    ['sessions', 'Session'],
    ['session', 'Session'],
    ['Session', 'Session'],
    ['SESSIONS', 'Session'],
    ['ses', 'Session'],
    ['sess', 'Session'],
    ['sessions.sandkasten.dev', 'Session'],
    ['ws', 'Workspace'],
    ['workspace', 'Workspace'],
    ['img', 'Image'],
    ['images', 'Image'],
    ['image.v1.sandkasten.dev', 'Image'],
    ['sessions.apps', undefined],
    ['pods', undefined],
    ['', undefined],
    ['.sandkasten.dev', undefined],
  ];
  for (const [input, kind] of cases) assert.equal(resolveResourceName(input)?.kind, kind, input);
  const all = resources.flatMap((r) => [r.plural, r.singular, ...r.shortNames]);
  assert.equal(new Set(all).size, all.length, 'no name is claimed twice');
});

test('every printer column points at a field the schema has', () => {
  for (const r of resources) {
    assert.ok(r.printerColumns.some((c) => c.name === 'Age' && c.type === 'date'));
    for (const col of r.printerColumns) {
      let c: SchemaCursor | undefined = { schema: getSchema(r.kind), base: schemaId(r.kind) };
      for (const seg of col.jsonPath.split('.').slice(1)) {
        const child: ReturnType<typeof childSchema> = c && childSchema(deref(c), {}, seg);
        c = child?.kind === 'property' ? child.cursor : undefined;
      }
      const t = c && deref(c).schema.type;
      const want = col.type === 'date' || col.type === 'string' ? 'string' : col.type;
      assert.ok(t === want || (Array.isArray(t) && t.includes(want)), `${r.kind} column ${col.name}: ${col.jsonPath} is ${JSON.stringify(t)}`);
    }
  }
});
