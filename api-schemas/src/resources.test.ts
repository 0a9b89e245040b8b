import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findResourceByKind, findResourceByPlural, resolveResourceName, resources } from './resources.js';
import { KINDS, type ServedKindName } from './types.js';
import { childSchema, deref, getSchema, schemaId, type SchemaCursor } from './schemas.js';

test('one resource per kind, with Kubernetes naming', () => {
  assert.deepEqual(resources.map((r) => r.kind).sort(), [...KINDS].sort());
  for (const r of resources) {
    assert.equal(r.listKind, `${r.kind}List`);
    assert.equal(r.singular, r.kind.toLowerCase());
    assert.equal(r.plural, `${r.singular}s`);
    // Events have no spec/status split: the controllers write them whole.
    assert.equal(r.subresources.includes('status'), r.kind !== 'Event');
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
  assert.equal(findResourceByKind('Event')?.namespaced, true);
  assert.deepEqual(findResourceByKind('Event')?.categories ?? [], [], 'events are not listed with the sandkasten category');
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
    ['events', 'Event'],
    ['ev', 'Event'],
    ['events.sandkasten.dev', 'Event'],
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
    // Events show when they last occurred instead of their age, as kubectl does; a GitOpsSync
    // when it last synced (it lives as long as the daemon's config names the directory).
    const when = r.kind === 'Event' ? 'Last Seen' : r.kind === 'GitOpsSync' ? 'Last Sync' : 'Age';
    assert.ok(r.printerColumns.some((c) => c.name === when && c.type === 'date'), `${r.kind}: a ${when} column`);
    for (const col of r.printerColumns) {
      const t = schemaTypeAt(r.kind, col.jsonPath);
      const want = col.type === 'date' || col.type === 'string' ? 'string' : col.type;
      assert.ok(t === want || (Array.isArray(t) && t.includes(want)), `${r.kind} column ${col.name}: ${col.jsonPath} is ${JSON.stringify(t)}`);
    }
  }
  const ev = findResourceByKind('Event')!;
  assert.deepEqual(
    ev.printerColumns.filter((c) => !c.priority).map((c) => c.name),
    ['Last Seen', 'Type', 'Reason', 'Object', 'Message'],
  );
});

test('selectable fields are scalar fields of the schema', () => {
  for (const r of resources) {
    for (const path of r.selectableFields ?? []) {
      assert.match(path, /^(\.[A-Za-z]+)+$/, `${r.kind}: ${path}`);
      const t = schemaTypeAt(r.kind, path);
      assert.ok(t === 'string' || t === 'integer' || t === 'boolean', `${r.kind} selectable field ${path} is ${JSON.stringify(t)}`);
    }
  }
  const fields = findResourceByKind('Event')?.selectableFields ?? [];
  for (const f of ['.involvedObject.name', '.involvedObject.uid', '.involvedObject.kind', '.involvedObject.namespace', '.reason', '.type']) {
    assert.ok(fields.includes(f), f);
  }
});

/** The JSON Schema type at a printer column's or selectable field's path (".a.b", ".a[?(@.k==\"v\")].b"). */
function schemaTypeAt(kind: ServedKindName, path: string): unknown {
  let c: SchemaCursor | undefined = { schema: getSchema(kind), base: schemaId(kind) };
  // A filter selects items of an array: the item schema.
  for (const seg of path.replace(/\[\?\(@\.[A-Za-z]+=="[^"]*"\)\]/g, '.[]').split('.').slice(1)) {
    const item = seg === '[]';
    const child: ReturnType<typeof childSchema> = c && childSchema(deref(c), item ? [] : {}, seg);
    c = child?.kind === (item ? 'item' : 'property') ? child.cursor : undefined;
  }
  return c && deref(c).schema.type;
}
