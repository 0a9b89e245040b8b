import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateObject, unknownFieldMessage } from './validate.js';
import type { FieldCause } from './types.js';
import type { Session } from './generated/Session.js';
import type { Workspace } from './generated/Workspace.js';
import type { Image } from './generated/Image.js';

const TS = '2025-01-31T12:00:00Z';

function session(spec: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name: 'dev', namespace: 'default' }, spec, ...extra };
}

/** The single cause for field, asserting there is exactly one. */
function causeAt(causes: FieldCause[], field: string): FieldCause {
  const at = causes.filter((c) => c.field === field);
  assert.equal(at.length, 1, `expected one cause at ${field}, got ${JSON.stringify(causes)}`);
  return at[0] as FieldCause;
}

const fullSession: Session = {
  apiVersion: 'sandkasten.dev/v1',
  kind: 'Session',
  metadata: {
    name: 'agent-1',
    namespace: 'team-a',
    uid: '0b9d6d6e-4f0c-4d8e-9f53-3a1f0e0c2b11',
    resourceVersion: '42',
    generation: 3,
    creationTimestamp: TS,
    labels: { app: 'agent', 'sandkasten.dev/owner': 'alice' },
    annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"a":1}', note: 'free text: anything goes!' },
    finalizers: ['sandkasten.dev/sandbox'],
    ownerReferences: [{ apiVersion: 'sandkasten.dev/v1', kind: 'Workspace', name: 'data', uid: 'u1', controller: false }],
    managedFields: [{ manager: 'kubectl', operation: 'Apply' }],
  },
  spec: {
    image: 'python-3.12',
    workspace: { name: 'data', mountPath: '/data' },
    ttlSeconds: 600,
    maxLifetimeSeconds: 86400,
    resources: { cpu: '500m', memory: '512Mi', pids: 128 },
    network: { mode: 'bridge' },
    env: [
      { name: 'HOME', value: '/root' },
      { name: 'DEBUG' },
    ],
    workingDir: '/data/project',
    securityProfile: { seccomp: 'strict' },
    hostname: 'agent-1',
  },
  status: {
    phase: 'Ready',
    observedGeneration: 3,
    conditions: [
      { type: 'Ready', status: 'True', reason: 'SandboxRunning', message: 'ok', lastTransitionTime: TS, observedGeneration: 3 },
      { type: 'WorkspaceMounted', status: 'True', lastTransitionTime: TS },
    ],
    sandbox: { id: 'sk-0b9d6d6e', pid: 4242, cgroup: '/sandkasten/sk-0b9d6d6e', startedAt: TS, runnerSocket: 'unix:///var/lib/sandkasten/sessions/x/run/runner.sock' },
    lastActivityTime: TS,
    expireTime: TS,
    message: 'running',
    reason: 'Running',
  },
};

test('valid objects of every kind pass', () => {
  const workspace: Workspace = {
    apiVersion: 'sandkasten.dev/v1',
    kind: 'Workspace',
    metadata: { name: 'data', namespace: 'default' },
    spec: { reclaimPolicy: 'Delete', sizeLimit: '10Gi' },
    status: { phase: 'Bound', sizeBytes: 1234, sessions: ['agent-1'], conditions: [{ type: 'Ready', status: 'True' }], observedGeneration: 1 },
  };
  const image: Image = {
    apiVersion: 'sandkasten.dev/v1',
    kind: 'Image',
    metadata: { name: 'python-3.12' },
    spec: { source: 'oci://docker.io/library/python:3.12-slim', pullPolicy: 'Always' },
    status: {
      phase: 'Pulling',
      progress: { bytesDone: 10, bytesTotal: 100, layersDone: 1, layersTotal: 4 },
      digest: 'sha256:abc',
      sizeBytes: 100,
      layerCount: 4,
      config: { env: ['PATH=/usr/bin'], workingDir: '/', user: '0', cmd: ['python3'] },
      message: 'pulling layer 2 of 4',
    },
  };
  for (const [kind, obj] of [
    ['Session', fullSession],
    ['Session', session()],
    ['Session', { apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { generateName: 'agent-' } }],
    ['Session', session({ workspace: 'data', resources: { cpu: 0.25, memory: 268435456 } })],
    ['Workspace', workspace],
    ['Workspace', { apiVersion: 'sandkasten.dev/v1', kind: 'Workspace', metadata: { name: 'w' } }],
    ['Image', image],
    ['Image', { apiVersion: 'sandkasten.dev/v1', kind: 'Image', metadata: { name: 'base' }, spec: { source: 'builtin://base' } }],
    ['Image', { apiVersion: 'sandkasten.dev/v1', kind: 'Image', metadata: { name: 'rootfs' }, spec: { source: 'tar:///srv/rootfs.tar' } }],
  ] as const) {
    assert.deepEqual(validateObject(kind, obj), { causes: [], unknownFields: [] }, `${kind} ${JSON.stringify(obj).slice(0, 80)}`);
  }
});

test('kubectl-style null creationTimestamp is accepted', () => {
  const r = validateObject('Session', { ...session(), metadata: { name: 'a', creationTimestamp: null } });
  assert.deepEqual(r.causes, []);
});

test('required fields, top-level and nested in lists', () => {
  const r = validateObject('Image', { apiVersion: 'sandkasten.dev/v1', kind: 'Image', metadata: { name: 'x' } });
  assert.deepEqual(r.causes, [{ reason: 'FieldValueRequired', field: 'spec', message: 'Required value' }]);
  const r2 = validateObject('Image', { apiVersion: 'sandkasten.dev/v1', kind: 'Image', metadata: { name: 'x' }, spec: {} });
  assert.deepEqual(r2.causes, [{ reason: 'FieldValueRequired', field: 'spec.source', message: 'Required value' }]);
  const r3 = validateObject('Session', session({ env: [{ name: 'A' }, { value: 'x' }] }));
  assert.deepEqual(r3.causes, [{ reason: 'FieldValueRequired', field: 'spec.env[1].name', message: 'Required value' }]);
  const r4 = validateObject('Session', { kind: 'Session' });
  assert.deepEqual(
    r4.causes.map((c) => [c.field, c.reason]),
    [
      ['apiVersion', 'FieldValueRequired'],
      ['metadata', 'FieldValueRequired'],
    ],
  );
  const r5 = validateObject('Session', session({ env: [{ name: '' }] }));
  assert.deepEqual(causeAt(r5.causes, 'spec.env[0].name').reason, 'FieldValueRequired');
});

test('wrong types name the field and the expected type', () => {
  const r = validateObject('Session', session({ ttlSeconds: 'abc', env: {}, hostname: 7 }));
  assert.deepEqual(causeAt(r.causes, 'spec.ttlSeconds'), {
    reason: 'FieldValueTypeInvalid',
    field: 'spec.ttlSeconds',
    message: 'Invalid value: "abc": must be an integer',
  });
  assert.equal(causeAt(r.causes, 'spec.env').message, 'Invalid value: {}: must be a list');
  assert.equal(causeAt(r.causes, 'spec.hostname').message, 'Invalid value: 7: must be a string');
  assert.ok(r.causes.every((c) => c.reason === 'FieldValueTypeInvalid'));
  assert.equal(causeAt(validateObject('Session', session({ ttlSeconds: 1.5 })).causes, 'spec.ttlSeconds').reason, 'FieldValueTypeInvalid');
  const root = validateObject('Session', 'abc');
  assert.deepEqual(root.causes, [{ reason: 'FieldValueTypeInvalid', field: '', message: 'Invalid value: "abc": must be an object' }]);
});

test('enums and consts are FieldValueNotSupported listing the supported values', () => {
  const r = validateObject('Session', session({ network: { mode: 'bridgee' }, securityProfile: { seccomp: 'none' } }));
  assert.deepEqual(causeAt(r.causes, 'spec.network.mode'), {
    reason: 'FieldValueNotSupported',
    field: 'spec.network.mode',
    message: 'Unsupported value: "bridgee": supported values: "none", "host", "bridge"',
  });
  assert.equal(causeAt(r.causes, 'spec.securityProfile.seccomp').reason, 'FieldValueNotSupported');
  const k = validateObject('Session', { ...session(), apiVersion: 'v1', kind: 'Sesion' });
  assert.equal(causeAt(k.causes, 'apiVersion').message, 'Unsupported value: "v1": supported values: "sandkasten.dev/v1"');
  assert.equal(causeAt(k.causes, 'kind').message, 'Unsupported value: "Sesion": supported values: "Session"');
  const st = validateObject('Session', session({}, { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'Yes' }] } }));
  assert.equal(causeAt(st.causes, 'status.phase').reason, 'FieldValueNotSupported');
  assert.equal(causeAt(st.causes, 'status.conditions[0].status').message, 'Unsupported value: "Yes": supported values: "True", "False", "Unknown"');
});

test('patterns give a description a person can act on', () => {
  const r = validateObject('Session', session({ workingDir: '/a/../etc', hostname: 'Bad_Host', image: 'Python:3' }));
  assert.equal(causeAt(r.causes, 'spec.workingDir').message, 'Invalid value: "/a/../etc": must be an absolute path without ".." components');
  assert.equal(causeAt(r.causes, 'spec.hostname').reason, 'FieldValueInvalid');
  assert.match(causeAt(r.causes, 'spec.image').message, /^Invalid value: "Python:3": must be the name of an Image/);
  for (const good of ['/', '/a..b', '/x/..y/z', '/a/.b']) {
    assert.deepEqual(validateObject('Session', session({ workingDir: good })).causes, [], good);
  }
  for (const bad of ['relative', '/..', '/a/..', '../x', '']) {
    assert.equal(causeAt(validateObject('Session', session({ workingDir: bad })).causes, 'spec.workingDir').reason, 'FieldValueInvalid', bad);
  }
  const img = validateObject('Image', { apiVersion: 'sandkasten.dev/v1', kind: 'Image', metadata: { name: 'x' }, spec: { source: 'docker.io/python' } });
  assert.match(causeAt(img.causes, 'spec.source').message, /^Invalid value: "docker.io\/python": must be a source such as "oci:\/\//);
  const ts = validateObject('Session', session({}, { status: { lastActivityTime: 'yesterday' } }));
  assert.equal(causeAt(ts.causes, 'status.lastActivityTime').message, 'Invalid value: "yesterday": must be an RFC 3339 date-time such as "2025-01-31T12:00:00Z"');
});

test('minimum, maximum and length limits', () => {
  const r = validateObject('Session', session({ ttlSeconds: -1, maxLifetimeSeconds: 2592001, resources: { pids: 0 }, hostname: 'a'.repeat(64) }));
  assert.equal(causeAt(r.causes, 'spec.ttlSeconds').message, 'Invalid value: -1: must be greater than or equal to 0');
  assert.equal(causeAt(r.causes, 'spec.maxLifetimeSeconds').message, 'Invalid value: 2592001: must be less than or equal to 2592000');
  assert.equal(causeAt(r.causes, 'spec.resources.pids').reason, 'FieldValueInvalid');
  assert.equal(causeAt(r.causes, 'spec.hostname').reason, 'FieldValueTooLong');
  assert.equal(causeAt(r.causes, 'spec.hostname').message, 'Too long: may not be more than 63 characters');
  const many = validateObject('Session', session({ env: Array.from({ length: 257 }, (_, i) => ({ name: `V${i}` })) }));
  assert.deepEqual(causeAt(many.causes, 'spec.env'), { reason: 'FieldValueTooLong', field: 'spec.env', message: 'Too many: 257: must have at most 256 items' });
});

test('quantities: syntax from the schema, ranges from the rules', () => {
  const r = validateObject('Session', session({ resources: { cpu: 'abc', memory: '512MB' } }));
  assert.deepEqual(causeAt(r.causes, 'spec.resources.cpu'), {
    reason: 'FieldValueInvalid',
    field: 'spec.resources.cpu',
    message: 'Invalid value: "abc": must be a number of CPUs such as "0.5", "2" or "500m"',
  });
  assert.match(causeAt(r.causes, 'spec.resources.memory').message, /^Invalid value: "512MB": must be a quantity of bytes such as "512Mi"/);
  const t = validateObject('Session', session({ resources: { cpu: true, memory: [1] } }));
  assert.equal(causeAt(t.causes, 'spec.resources.cpu').reason, 'FieldValueTypeInvalid');
  assert.match(causeAt(t.causes, 'spec.resources.cpu').message, /^Invalid value: true: must be a number of CPUs/);
  assert.equal(causeAt(t.causes, 'spec.resources.memory').reason, 'FieldValueTypeInvalid');
  const z = validateObject('Session', session({ resources: { cpu: '0m', memory: '1Ki' } }));
  assert.equal(causeAt(z.causes, 'spec.resources.cpu').message, 'Invalid value: "0m": must be greater than 0');
  assert.equal(causeAt(z.causes, 'spec.resources.memory').message, 'Invalid value: "1Ki": must be at least 4Mi (4194304 bytes)');
  const n = validateObject('Session', session({ resources: { cpu: 0, memory: 1.5 } }));
  assert.equal(causeAt(n.causes, 'spec.resources.cpu').message, 'Invalid value: 0: must be greater than 0');
  assert.equal(causeAt(n.causes, 'spec.resources.memory').reason, 'FieldValueTypeInvalid');
  assert.equal(causeAt(validateObject('Session', session({ resources: { cpu: '2000' } })).causes, 'spec.resources.cpu').message, 'Invalid value: "2000": must be less than or equal to 1024');
  const ws = validateObject('Workspace', { apiVersion: 'sandkasten.dev/v1', kind: 'Workspace', metadata: { name: 'w' }, spec: { sizeLimit: '0' } });
  assert.equal(causeAt(ws.causes, 'spec.sizeLimit').message, 'Invalid value: "0": must be greater than 0');
});

test('the workspace reference takes a name or an object', () => {
  const t = validateObject('Session', session({ workspace: 5 }));
  assert.deepEqual(causeAt(t.causes, 'spec.workspace').reason, 'FieldValueTypeInvalid');
  assert.match(causeAt(t.causes, 'spec.workspace').message, /^Invalid value: 5: must be the name of a Workspace, or an object/);
  const bad = validateObject('Session', session({ workspace: { mountPath: '/' } }));
  assert.deepEqual(bad.causes.map((c) => [c.field, c.reason]).sort(), [
    ['spec.workspace.mountPath', 'FieldValueInvalid'],
    ['spec.workspace.name', 'FieldValueRequired'],
  ]);
  const name = validateObject('Session', session({ workspace: 'My Data' }));
  assert.equal(causeAt(name.causes, 'spec.workspace').reason, 'FieldValueInvalid');
});

test('duplicates in sets and keyed lists point at the later entry', () => {
  const r = validateObject('Session', {
    ...session({ env: [{ name: 'A' }, { name: 'B' }, { name: 'A', value: '2' }] }),
    metadata: { name: 'x', finalizers: ['f', 'g', 'f'] },
    status: { conditions: [{ type: 'Ready', status: 'True' }, { type: 'Ready', status: 'False' }] },
  });
  assert.deepEqual(causeAt(r.causes, 'spec.env[2].name'), { reason: 'FieldValueDuplicate', field: 'spec.env[2].name', message: 'Duplicate value: "A"' });
  assert.equal(causeAt(r.causes, 'metadata.finalizers[2]').message, 'Duplicate value: "f"');
  assert.equal(causeAt(r.causes, 'status.conditions[1].type').reason, 'FieldValueDuplicate');
  assert.equal(r.causes.length, 3);
});

test('unknown fields are reported apart, with their paths', () => {
  const r = validateObject('Session', {
    ...session({ imagee: 'x', env: [{ name: 'A', valuee: 'x' }], network: { mode: 'none', ipv6: true }, workspace: { name: 'w', mountPat: '/a' } }),
    extra: 1,
    metadata: { name: 'a', clusterName: 'c' },
    status: { sandbox: { hostPath: '/x' } },
  });
  assert.deepEqual(r.causes, []);
  assert.deepEqual(r.unknownFields.sort(), [
    'extra',
    'metadata.clusterName',
    'spec.env[0].valuee',
    'spec.imagee',
    'spec.network.ipv6',
    'spec.workspace.mountPat',
    'status.sandbox.hostPath',
  ]);
  assert.equal(unknownFieldMessage('spec.imagee'), 'unknown field "spec.imagee"');
  const both = validateObject('Session', session({ imagee: 'x', ttlSeconds: -5 }));
  assert.deepEqual(both.unknownFields, ['spec.imagee']);
  assert.equal(causeAt(both.causes, 'spec.ttlSeconds').reason, 'FieldValueInvalid');
});

test('every bad field is reported at once', () => {
  const r = validateObject('Session', session({ ttlSeconds: 'x', network: { mode: 'y' }, env: [{ name: '1' }], hostname: '-' }));
  assert.deepEqual(r.causes.map((c) => c.field).sort(), ['spec.env[0].name', 'spec.hostname', 'spec.network.mode', 'spec.ttlSeconds']);
});

test('metadata rules: names, namespaces, labels, annotations', () => {
  const r = validateObject('Workspace', {
    apiVersion: 'sandkasten.dev/v1',
    kind: 'Workspace',
    metadata: { name: 'Bad_Name', namespace: 'Team.A', labels: { 'a/b/c': 'x', ok: 'bad value!' }, annotations: { '/x': 'y' } },
  });
  assert.match(causeAt(r.causes, 'metadata.name').message, /^Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of/);
  assert.match(causeAt(r.causes, 'metadata.namespace').message, /a lowercase RFC 1123 label must consist of/);
  assert.match(causeAt(r.causes, 'metadata.labels').message, /^Invalid value: "a\/b\/c": a qualified name must consist/);
  assert.match(causeAt(r.causes, 'metadata.labels[ok]').message, /^Invalid value: "bad value!": a valid label must be an empty string/);
  assert.equal(causeAt(r.causes, 'metadata.annotations').message, 'Invalid value: "/x": prefix part must be non-empty');
  const gen = validateObject('Session', { apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name: '', generateName: 'agent-' } });
  assert.deepEqual(gen.causes, []);
  const empty = validateObject('Session', { apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name: '' } });
  assert.equal(causeAt(empty.causes, 'metadata.name').reason, 'FieldValueRequired');
  const fin = validateObject('Session', { ...session(), metadata: { name: 'a', finalizers: ['ok.io/x', 'bad name', 'ok.io/x'] } });
  assert.deepEqual(fin.causes.map((c) => [c.field, c.reason]), [
    ['metadata.finalizers[2]', 'FieldValueDuplicate'],
    ['metadata.finalizers[1]', 'FieldValueInvalid'],
  ]);
  const labelType = validateObject('Session', { ...session(), metadata: { name: 'a', labels: { a: 1 } } });
  assert.deepEqual(labelType.causes, [{ reason: 'FieldValueTypeInvalid', field: 'metadata.labels[a]', message: 'Invalid value: 1: must be a string' }]);
});

test('an unknown kind is a cause, not an exception', () => {
  assert.deepEqual(validateObject('Pod', {}).causes, [
    { reason: 'FieldValueNotSupported', field: 'kind', message: 'Unsupported value: "Pod": supported values: "Session", "Workspace", "Image", "Event", "GitOpsSync"' },
  ]);
});

test('validation does not modify its input and survives hostile input', () => {
  const obj = session({ network: {}, env: [{ name: 'A' }] });
  const before = JSON.stringify(obj);
  validateObject('Session', obj);
  assert.equal(JSON.stringify(obj), before);
  for (const v of [null, undefined, 42, [], [1, 2], { metadata: null }, { metadata: [], spec: [] }, { spec: { env: [null, 1, 'x'] } }]) {
    const r = validateObject('Session', v);
    assert.ok(r.causes.length > 0, JSON.stringify(v));
    for (const c of r.causes) assert.ok(c.message.length > 0);
  }
  const proto = JSON.parse('{"apiVersion":"sandkasten.dev/v1","kind":"Session","metadata":{"name":"a","__proto__":{"x":1}}}') as unknown;
  assert.deepEqual(validateObject('Session', proto).unknownFields, ['metadata.__proto__']);
  const huge = 'x'.repeat(100000);
  const h = validateObject('Session', session({ hostname: huge }));
  assert.ok(causeAt(h.causes, 'spec.hostname').message.length < 400);
});
