import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JsonPath, JsonPathError, relaxedPath } from './jsonpath.js';

const obj = {
  kind: 'List',
  items: [
    {
      metadata: { name: 'a', labels: { app: 'x', 'sandkasten.dev/team': 'red' } },
      spec: { image: 'base', cpus: 2 },
      status: { phase: 'Ready', conditions: [{ type: 'Scheduled', status: 'True' }, { type: 'Ready', status: 'True' }] },
    },
    {
      metadata: { name: 'b', labels: { app: 'y' } },
      spec: { image: 'python', cpus: 1 },
      status: { phase: 'Pending', conditions: [{ type: 'Ready', status: 'False' }] },
    },
  ],
};

const run = (t: string, data: unknown = obj) => JsonPath.parse(t).execute(data);

test('paths, wildcards, indexes, slices', () => {
  assert.equal(run('{.kind}'), 'List');
  assert.equal(run('{$.kind}'), 'List');
  assert.equal(run('{.items[*].metadata.name}'), 'a b');
  assert.equal(run('{.items[0].spec.image}'), 'base');
  assert.equal(run('{.items[-1].spec.image}'), 'python');
  assert.equal(run('{.items[0:1].metadata.name}'), 'a');
  assert.equal(run('{.items[0,1].spec.cpus}'), '2 1');
  assert.equal(run('{.items[5].spec}'), '');
  assert.equal(run('{.items[0].metadata.labels}'), '{"app":"x","sandkasten.dev/team":"red"}');
  assert.equal(run('{.items[0].metadata.labels.sandkasten\\.dev/team}'), 'red');
  assert.equal(run("{.items[0].metadata.labels['sandkasten.dev/team']}"), 'red');
  assert.equal(run("{.items[0].metadata['name','missing']}"), 'a');
  assert.equal(run('{..phase}'), 'Ready Pending');
  assert.equal(run('{.items[0].spec.*}'), 'base 2');
  assert.equal(run('{.nothing.here}'), '', 'missing keys print nothing');
  assert.equal(run('{@.kind}'), 'List');
  assert.equal(run('{.}', 'plain'), 'plain');
});

test('filters', () => {
  assert.equal(run('{.items[0].status.conditions[?(@.type=="Ready")].status}'), 'True');
  assert.equal(run("{.items[?(@.status.phase=='Pending')].metadata.name}"), 'b');
  assert.equal(run('{.items[?(@.spec.cpus > 1)].metadata.name}'), 'a');
  assert.equal(run('{.items[?(@.spec.cpus <= 1)].metadata.name}'), 'b');
  assert.equal(run('{.items[?(@.spec.cpus != 1)].metadata.name}'), 'a');
  assert.equal(run('{.items[?(@.metadata.labels.app)].metadata.name}'), 'a b');
  assert.equal(run('{.items[?(@.metadata.labels.nope)].metadata.name}'), '');
});

test('text, literals and ranges', () => {
  assert.equal(run('{range .items[*]}{.metadata.name}{"\\t"}{.status.phase}{"\\n"}{end}'), 'a\tReady\nb\tPending\n');
  assert.equal(run('name: {.items[0].metadata.name}!'), 'name: a!');
  assert.equal(
    run('{range .items[*]}[{range .status.conditions[*]}{.type}={.status} {end}]{end}'),
    '[Scheduled=True Ready=True ][Ready=False ]',
  );
  assert.equal(run('{range .items[*]}{$.kind}/{.metadata.name} {end}'), 'List/a List/b ');
  assert.equal(run("{'x\\ny'}"), 'x\ny');
  assert.equal(run('{"}"}'), '}');
});

test('errors name the template', () => {
  for (const [t, re] of [
    ['{.a', /unclosed action/],
    ['{range .items[*]}{.a}', /\{range\} without \{end\}/],
    ['{end}', /\{end\} without \{range\}/],
    ['{.items[abc]}', /invalid subscript \[abc\]/],
    ['{.items[0}', /unclosed/],
    ['{}', /empty action/],
    ['{.a[?(@.b == zz)]}', /invalid filter operand "zz"/],
  ] as const) {
    assert.throws(() => JsonPath.parse(t), (e: unknown) => e instanceof JsonPathError && re.test(e.message), t);
  }
});

test('relaxed paths for custom columns', () => {
  const o = obj.items[0];
  for (const p of ['.metadata.name', 'metadata.name', '{.metadata.name}', '$.metadata.name']) assert.equal(relaxedPath(p).execute(o), 'a', p);
  assert.deepEqual(relaxedPath('.status.conditions[*].type').values(o), ['Scheduled', 'Ready']);
  assert.throws(() => relaxedPath(''), JsonPathError);
});
