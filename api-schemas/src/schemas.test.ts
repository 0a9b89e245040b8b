// Rules the schema files themselves must follow, so validation and codegen can rely on them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deref, schemasById, type JsonSchema } from './schemas.js';

function walk(node: unknown, path: string, visit: (s: JsonSchema, path: string) => void): void {
  if (Array.isArray(node)) node.forEach((n, i) => walk(n, `${path}/${i}`, visit));
  else if (node !== null && typeof node === 'object') {
    visit(node as JsonSchema, path);
    for (const [k, v] of Object.entries(node)) if (k !== 'default' && k !== 'enum' && k !== 'const') walk(v, `${path}/${k}`, visit);
  }
}

test('every $ref resolves', () => {
  for (const [id, schema] of schemasById) {
    walk(schema, id, (s, path) => {
      if (typeof s.$ref === 'string') assert.doesNotThrow(() => deref({ schema: s, base: id }), path);
    });
  }
});

test('every oneOf stands alone and each branch has a type (the validator relies on it)', () => {
  for (const [id, schema] of schemasById) {
    walk(schema, id, (s, path) => {
      if (!Array.isArray(s.oneOf)) return;
      const others = Object.keys(s).filter((k) => !['oneOf', 'description', 'title', 'x-format-description', '$schema', '$id'].includes(k));
      assert.deepEqual(others, [], `${path}: keywords beside oneOf`);
      const types = (s.oneOf as JsonSchema[]).map((b) => deref({ schema: b, base: id }).schema.type);
      for (const t of types) assert.equal(typeof t, 'string', `${path}: a branch without a single type`);
      assert.equal(new Set(types).size, types.length, `${path}: two branches of one type`);
      assert.ok(!(types.includes('number') && types.includes('integer')), `${path}: number and integer overlap`);
    });
  }
});

test('objects with properties are closed, so unknown fields are detectable', () => {
  for (const [id, schema] of schemasById) {
    walk(schema, id, (s, path) => {
      if (s.properties !== undefined) assert.equal(s.additionalProperties, false, `${path}: additionalProperties: false missing`);
    });
  }
});

test('the kinds carry apiVersion, kind, metadata, spec and status', () => {
  for (const kind of ['Session', 'Workspace', 'Image']) {
    const s = schemasById.get(`https://sandkasten.dev/schemas/v1/${kind}.json`) as JsonSchema;
    const props = s.properties as Record<string, JsonSchema>;
    assert.deepEqual(Object.keys(props), ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
    assert.equal(props.apiVersion?.const, 'sandkasten.dev/v1');
    assert.equal(props.kind?.const, kind);
    assert.equal(props.metadata?.$ref, 'ObjectMeta.json');
  }
});
