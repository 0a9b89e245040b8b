// The Event kind: what a valid Event looks like, and what validation says about bad ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDefaults } from './defaults.js';
import type { Event } from './generated/Event.js';
import { validateObject } from './validate.js';

const TS = '2025-01-31T12:00:00Z';

function event(over: Record<string, unknown> = {}): Record<string, unknown> {
  const e: Event = {
    apiVersion: 'sandkasten.dev/v1',
    kind: 'Event',
    metadata: { name: 'dev.6f1c2a9e0b3d4c5a', namespace: 'team-a' },
    involvedObject: { apiVersion: 'sandkasten.dev/v1', kind: 'Session', name: 'dev', namespace: 'team-a', uid: 'u-1', resourceVersion: '7' },
    reason: 'SandboxStarted',
    message: 'started sandbox sk-u-1',
    type: 'Normal',
    count: 1,
    firstTimestamp: TS,
    lastTimestamp: TS,
    source: { component: 'session-controller' },
    reportingComponent: 'session-controller',
    action: 'Start',
  };
  return { ...e, ...over };
}

const byField = (obj: unknown) => Object.fromEntries(validateObject('Event', obj).causes.map((c) => [c.field, `${c.reason}: ${c.message}`]));

test('a complete Event is valid, and so is one about a cluster-scoped object in "default"', () => {
  assert.deepEqual(validateObject('Event', event()), { causes: [], unknownFields: [] });
  const image = event({
    metadata: { name: 'base.0123456789abcdef', namespace: 'default' },
    involvedObject: { apiVersion: 'sandkasten.dev/v1', kind: 'Image', name: 'base', uid: 'u-2' },
    type: 'Warning',
    reason: 'PullFailed',
    message: '',
  });
  assert.deepEqual(validateObject('Event', image).causes, []);
});

test('count defaults to 1; the other fields are required', () => {
  const { count: _, ...rest } = event();
  assert.equal(applyDefaults('Event', rest).count, 1);
  assert.deepEqual(
    validateObject('Event', { apiVersion: 'sandkasten.dev/v1', kind: 'Event', metadata: { name: 'x', namespace: 'default' } }).causes.map((c) => c.field).sort(),
    ['count', 'firstTimestamp', 'involvedObject', 'lastTimestamp', 'message', 'reason', 'source', 'type'],
  );
  assert.deepEqual(Object.keys(byField(event({ involvedObject: { namespace: 'team-a' }, source: {} }))).sort(), [
    'involvedObject.apiVersion',
    'involvedObject.kind',
    'involvedObject.name',
    'involvedObject.uid',
    'source.component',
  ]);
});

test('bad values name their field', () => {
  assert.deepEqual(
    byField(
      event({
        type: 'Error',
        reason: 'pull failed',
        count: 0,
        firstTimestamp: 'yesterday',
        message: 'x'.repeat(4097),
        involvedObject: { apiVersion: 'sandkasten.dev/v1', kind: 'Session', name: '', namespace: 'team-a', uid: 'u' },
      }),
    ),
    {
      type: 'FieldValueNotSupported: Unsupported value: "Error": supported values: "Normal", "Warning"',
      reason: 'FieldValueInvalid: Invalid value: "pull failed": must be a CamelCase reason such as "ImagePulled"',
      count: 'FieldValueInvalid: Invalid value: 0: must be greater than or equal to 1',
      firstTimestamp: 'FieldValueInvalid: Invalid value: "yesterday": must be an RFC 3339 date-time such as "2025-01-31T12:00:00Z"',
      message: 'FieldValueTooLong: Too long: may not be more than 4096 characters',
      'involvedObject.name': 'FieldValueRequired: Required value',
    },
  );
  assert.deepEqual(validateObject('Event', event({ severity: 'high', involvedObject: { ...(event().involvedObject as object), fieldPath: 'x' } })).unknownFields, [
    'severity',
    'involvedObject.fieldPath',
  ]);
});

test('an Event lives in its object namespace, or in "default" for cluster-scoped objects', () => {
  assert.deepEqual(byField(event({ metadata: { name: 'a.1', namespace: 'team-b' } })), {
    'involvedObject.namespace': 'FieldValueInvalid: Invalid value: "team-a": does not match event.namespace',
  });
  const clusterScoped = { apiVersion: 'sandkasten.dev/v1', kind: 'Image', name: 'base', uid: 'u-2' };
  assert.deepEqual(byField(event({ involvedObject: clusterScoped })), {
    'involvedObject.namespace': 'FieldValueInvalid: Invalid value: "": events about cluster-scoped objects belong in namespace "default", not "team-a"',
  });
  assert.deepEqual(byField(event({ involvedObject: { ...clusterScoped, namespace: '' }, metadata: { name: 'a.1', namespace: 'default' } })), {});
});

test('lastTimestamp may not precede firstTimestamp', () => {
  assert.deepEqual(byField(event({ firstTimestamp: '2025-01-31T12:00:01Z' })), {
    lastTimestamp: `FieldValueInvalid: Invalid value: "${TS}": must not be before firstTimestamp`,
  });
  assert.deepEqual(byField(event({ lastTimestamp: '2025-01-31T12:00:01Z' })), {});
});
