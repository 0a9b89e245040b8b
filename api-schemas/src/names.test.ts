import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  isDns1123Label,
  isDns1123Subdomain,
  validateAnnotations,
  validateFinalizers,
  validateGenerateName,
  validateLabels,
  validateName,
  validateNamespace,
  MAX_ANNOTATIONS_BYTES,
} from './names.js';

test('names are DNS-1123 subdomains of at most 253 characters', () => {
  for (const ok of ['a', 'dev', 'agent-1', 'a.b.c', '0abc', 'x'.repeat(253), `${'a'.repeat(63)}.${'b'.repeat(63)}`]) {
    assert.deepEqual(validateName(ok), [], ok);
    assert.ok(isDns1123Subdomain(ok));
  }
  for (const bad of ['A', 'a_b', '-a', 'a-', 'a..b', '.a', 'a.', 'a b', 'ü', '../etc', 'a/b']) {
    const c = validateName(bad);
    assert.equal(c.length, 1, bad);
    assert.equal(c[0]?.reason, 'FieldValueInvalid');
    assert.equal(c[0]?.field, 'metadata.name');
    assert.ok(c[0]?.message.startsWith(`Invalid value: ${JSON.stringify(bad)}: a lowercase RFC 1123 subdomain must consist of`), c[0]?.message);
    assert.equal(isDns1123Subdomain(bad), false);
  }
  assert.deepEqual(validateName('x'.repeat(254)), [
    { reason: 'FieldValueInvalid', field: 'metadata.name', message: `Invalid value: "${'x'.repeat(254)}": must be no more than 253 characters` },
  ]);
  assert.equal(validateName('')[0]?.reason, 'FieldValueRequired');
  assert.equal(validateName(3, 'spec.workspace')[0]?.reason, 'FieldValueTypeInvalid');
  assert.equal(validateName(3, 'spec.workspace')[0]?.field, 'spec.workspace');
});

test('generateName allows a trailing dash and leaves room for the suffix', () => {
  assert.deepEqual(validateGenerateName('agent-'), []);
  assert.deepEqual(validateGenerateName('agent'), []);
  assert.deepEqual(validateGenerateName(''), []);
  assert.equal(validateGenerateName('Agent-').length, 1);
  assert.equal(validateGenerateName('a'.repeat(249)).length, 1);
  assert.deepEqual(validateGenerateName('a'.repeat(248)), []);
});

test('namespaces are DNS-1123 labels of at most 63 characters', () => {
  assert.deepEqual(validateNamespace('default'), []);
  assert.deepEqual(validateNamespace('x'.repeat(63)), []);
  assert.ok(isDns1123Label('team-a'));
  assert.equal(isDns1123Label('a.b'), false);
  assert.equal(validateNamespace('a.b')[0]?.field, 'metadata.namespace');
  assert.match(validateNamespace('a.b')[0]?.message ?? '', /a lowercase RFC 1123 label must consist of/);
  assert.equal(validateNamespace('x'.repeat(64))[0]?.message, `Invalid value: "${'x'.repeat(64)}": must be no more than 63 characters`);
  assert.equal(validateNamespace('')[0]?.reason, 'FieldValueRequired');
});

test('labels follow the Kubernetes key and value rules', () => {
  assert.deepEqual(
    validateLabels({ app: 'web', 'sandkasten.dev/owner': 'alice', 'a.b/C_d-e.f': 'V_1-2.3', empty: '', x: 'y'.repeat(63) }),
    [],
  );
  const bad = validateLabels({ 'a/b/c': 'x', '/x': 'x', 'Example.com/x': 'x', 'x/': 'x', [`${'k'.repeat(64)}`]: 'x', ok: '-bad', long: 'v'.repeat(64) });
  const byKey = (field: string) => bad.filter((c) => c.field === field).map((c) => c.message);
  assert.ok(byKey('metadata.labels').some((m) => m.startsWith('Invalid value: "a/b/c": a qualified name must consist of')));
  assert.ok(byKey('metadata.labels').includes('Invalid value: "/x": prefix part must be non-empty'));
  assert.ok(byKey('metadata.labels').some((m) => m.startsWith('Invalid value: "Example.com/x": prefix part a lowercase RFC 1123 subdomain')));
  assert.ok(byKey('metadata.labels').includes('Invalid value: "x/": name part must be non-empty'));
  assert.ok(byKey('metadata.labels').includes(`Invalid value: "${'k'.repeat(64)}": name part must be no more than 63 characters`));
  assert.match(byKey('metadata.labels[ok]')[0] ?? '', /^Invalid value: "-bad": a valid label must be an empty string or consist of/);
  assert.deepEqual(byKey('metadata.labels[long]'), [`Invalid value: "${'v'.repeat(64)}": must be no more than 63 characters`]);
  assert.ok(bad.every((c) => c.reason === 'FieldValueInvalid'));
  assert.deepEqual(validateLabels({ a: 1 }), [{ reason: 'FieldValueTypeInvalid', field: 'metadata.labels[a]', message: 'Invalid value: 1: must be a string' }]);
  assert.equal(validateLabels(['a'])[0]?.reason, 'FieldValueTypeInvalid');
  assert.equal(validateLabels(null, 'spec.selector')[0]?.field, 'spec.selector');
});

test('annotations: case-insensitive qualified keys, any value, 256 KiB in total', () => {
  assert.deepEqual(validateAnnotations({ 'Kubectl.Kubernetes.io/last-applied-configuration': '{"a": 1}\n', note: 'Any text at all!' }), []);
  assert.equal(validateAnnotations({ 'a b': 'x' })[0]?.field, 'metadata.annotations');
  const half = 'v'.repeat(MAX_ANNOTATIONS_BYTES / 2);
  assert.deepEqual(validateAnnotations({ a: half, b: half.slice(2) }), []);
  assert.deepEqual(validateAnnotations({ a: half, b: half }), [
    { reason: 'FieldValueTooLong', field: 'metadata.annotations', message: `Too long: may not be more than ${MAX_ANNOTATIONS_BYTES} bytes` },
  ]);
  // Bytes, not characters: multi-byte values count fully.
  assert.equal(validateAnnotations({ a: 'ü'.repeat(MAX_ANNOTATIONS_BYTES / 2) }).length, 1);
});

test('finalizers are qualified names, each once', () => {
  assert.deepEqual(validateFinalizers(['sandkasten.dev/sandbox', 'orphan']), []);
  assert.deepEqual(validateFinalizers(['a', 'b', 'a']), [{ reason: 'FieldValueDuplicate', field: 'metadata.finalizers[2]', message: 'Duplicate value: "a"' }]);
  const bad = validateFinalizers(['a/b/c', 'sandkasten.dev/', 7]);
  assert.deepEqual(bad.map((c) => [c.field, c.reason]), [
    ['metadata.finalizers[0]', 'FieldValueInvalid'],
    ['metadata.finalizers[1]', 'FieldValueInvalid'],
    ['metadata.finalizers[2]', 'FieldValueTypeInvalid'],
  ]);
  assert.equal(bad[1]?.message, 'Invalid value: "sandkasten.dev/": name part must be non-empty');
  assert.equal(validateFinalizers('x')[0]?.reason, 'FieldValueTypeInvalid');
});
