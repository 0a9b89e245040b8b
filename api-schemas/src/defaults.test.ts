import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDefaults, pruneUnknownFields } from './defaults.js';
import { validateObject } from './validate.js';
import { sessionWorkspaceMount } from './session.js';

const meta = { name: 'a', namespace: 'default' };

test('Session defaults fill nested objects the user left out', () => {
  const input = { apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: meta };
  const out = applyDefaults('Session', input);
  assert.deepEqual(out, { ...input, spec: { network: { mode: 'none' }, securityProfile: { seccomp: 'default' } } });
  assert.deepEqual(input, { apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: meta }, 'input untouched');
  assert.deepEqual(validateObject('Session', out).causes, []);
});

test('defaults never override what is set, and reach into lists and oneOf branches', () => {
  const out = applyDefaults('Session', {
    apiVersion: 'sandkasten.dev/v1',
    kind: 'Session',
    metadata: meta,
    spec: { network: { mode: 'host' }, env: [{ name: 'A' }, { name: 'B', value: 'b' }], workspace: { name: 'w' } },
  });
  assert.deepEqual(out.spec, {
    network: { mode: 'host' },
    env: [
      { name: 'A', value: '' },
      { name: 'B', value: 'b' },
    ],
    workspace: { name: 'w', mountPath: '/workspace' },
    securityProfile: { seccomp: 'default' },
  });
  // The short form stays short; the image comes from the daemon's config, not the schema.
  const short = applyDefaults('Session', { apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: meta, spec: { workspace: 'w' } });
  assert.equal(short.spec.workspace, 'w');
  assert.equal((short.spec as Record<string, unknown>).image, undefined);
});

test('Workspace and Image defaults', () => {
  const ws = applyDefaults('Workspace', { apiVersion: 'sandkasten.dev/v1', kind: 'Workspace', metadata: meta });
  assert.deepEqual((ws as Record<string, unknown>).spec, { reclaimPolicy: 'Retain' });
  const img = applyDefaults('Image', { apiVersion: 'sandkasten.dev/v1', kind: 'Image', metadata: { name: 'base' }, spec: { source: 'builtin://base' } });
  assert.deepEqual(img.spec, { source: 'builtin://base', pullPolicy: 'IfNotPresent' });
});

test('defaulting tolerates invalid input', () => {
  for (const v of [null, 'x', 3, [], { spec: 'x' }, { spec: { env: 'x', network: null, workspace: 5 } }]) {
    assert.doesNotThrow(() => applyDefaults('Session', v), JSON.stringify(v));
  }
  assert.deepEqual(applyDefaults('Session', { spec: { network: null } }), { spec: { network: null, securityProfile: { seccomp: 'default' } } });
});

test('pruneUnknownFields drops exactly what validation reports as unknown', () => {
  const obj = {
    apiVersion: 'sandkasten.dev/v1',
    kind: 'Session',
    extra: 1,
    metadata: { ...meta, clusterName: 'x', labels: { keep: 'me' } },
    spec: { imagee: 'x', env: [{ name: 'A', valuee: 'v' }], workspace: { name: 'w', mountPat: '/a' }, resources: { cpu: 1, gpu: 1 } },
    status: { phase: 'Ready', sandbox: { id: 'x', hostPath: '/h' } },
  };
  assert.equal(validateObject('Session', obj).unknownFields.length, 7);
  const pruned = pruneUnknownFields('Session', obj);
  assert.deepEqual(validateObject('Session', pruned), { causes: [], unknownFields: [] });
  assert.deepEqual(pruned, {
    apiVersion: 'sandkasten.dev/v1',
    kind: 'Session',
    metadata: { ...meta, labels: { keep: 'me' } },
    spec: { env: [{ name: 'A' }], workspace: { name: 'w' }, resources: { cpu: 1 } },
    status: { phase: 'Ready', sandbox: { id: 'x' } },
  });
  assert.equal(obj.extra, 1, 'input untouched');
});

test('sessionWorkspaceMount reads both forms', () => {
  assert.equal(sessionWorkspaceMount(undefined), undefined);
  assert.equal(sessionWorkspaceMount({}), undefined);
  assert.deepEqual(sessionWorkspaceMount({ workspace: 'data' }), { name: 'data', mountPath: '/workspace' });
  assert.deepEqual(sessionWorkspaceMount({ workspace: { name: 'data' } }), { name: 'data', mountPath: '/workspace' });
  assert.deepEqual(sessionWorkspaceMount({ workspace: { name: 'data', mountPath: '/data' } }), { name: 'data', mountPath: '/data' });
});
