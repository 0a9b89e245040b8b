import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from './selectors.js';
import { applyMerge, mergePatch } from './merge.js';
import { evalJsonPath, humanDuration } from './table.js';

describe('label selectors', () => {
  const m = (sel: string, labels: Record<string, string>) => matchesLabels(parseLabelSelector(sel), labels);
  it('parses and matches every operator', () => {
    assert.equal(m('a=b', { a: 'b' }), true);
    assert.equal(m('a==b', { a: 'c' }), false);
    assert.equal(m('a!=b', {}), true);
    assert.equal(m('a!=b', { a: 'b' }), false);
    assert.equal(m('a in (x, y)', { a: 'y' }), true);
    assert.equal(m('a in (x,y)', {}), false);
    assert.equal(m('a notin (x,y)', {}), true);
    assert.equal(m('a notin (x,y)', { a: 'x' }), false);
    assert.equal(m('a', { a: '' }), true);
    assert.equal(m('!a', { a: '' }), false);
    assert.equal(m('example.com/role=db,tier in (1,2),!gone', { 'example.com/role': 'db', tier: '2' }), true);
    assert.equal(m('n>3', { n: '10' }), true);
    assert.equal(m('n<3', { n: 'x' }), false);
    assert.equal(m('', { anything: 'x' }), true);
    assert.equal(m('a=', { a: '' }), true);
  });
  it('rejects malformed selectors with a 400', () => {
    for (const bad of ['a in (b', 'a=b=c', ',', 'a==', 'Bad Key=x', 'a=-x-', 'a in (x,-y)', 'n>x', '=b', 'a b']) {
      if (bad === 'a==') continue; // "a==" is a == "" (empty value), valid in Kubernetes too
      assert.throws(() => parseLabelSelector(bad), (e: { status?: number }) => e.status === 400, bad);
    }
  });
});

describe('field selectors', () => {
  it('supports metadata.name and metadata.namespace with =, == and !=', () => {
    const f = parseFieldSelector('metadata.name=a,metadata.namespace!=kube');
    assert.equal(matchesFields(f, { metadata: { name: 'a', namespace: 'x' } }), true);
    assert.equal(matchesFields(f, { metadata: { name: 'a', namespace: 'kube' } }), false);
    assert.equal(matchesFields(parseFieldSelector('metadata.name==b'), { metadata: { name: 'b' } }), true);
    assert.throws(() => parseFieldSelector('spec.image=x'), /field label not supported: spec.image/);
    assert.throws(() => parseFieldSelector('nonsense'), (e: { status?: number }) => e.status === 400);
  });
  it("supports a resource's selectable fields, an absent field comparing as the empty string", () => {
    const selectable = ['involvedObject.name', 'involvedObject.namespace', 'count'];
    const ev = { metadata: { name: 'dev.1' }, involvedObject: { name: 'dev' }, count: 3 };
    assert.equal(matchesFields(parseFieldSelector('involvedObject.name=dev,count=3', selectable), ev), true);
    assert.equal(matchesFields(parseFieldSelector('involvedObject.name!=dev', selectable), ev), false);
    assert.equal(matchesFields(parseFieldSelector('involvedObject.namespace=', selectable), ev), true);
    assert.equal(matchesFields(parseFieldSelector('involvedObject.namespace!=', selectable), ev), false);
    assert.throws(() => parseFieldSelector('involvedObject.name=dev'), /field label not supported: involvedObject.name/);
    // Only the object's own fields: nothing inherited from Object.prototype.
    assert.equal(matchesFields(parseFieldSelector('involvedObject.constructor=', ['involvedObject.constructor']), ev), true);
  });
});

describe('merge logic', () => {
  it('merge patch follows RFC 7386 (its appendix examples)', () => {
    const cases: [unknown, unknown, unknown][] = [
      [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
      [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
      [{ a: 'b' }, { a: null }, {}],
      [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
      [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
      [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
      [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
      [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
      [['a', 'b'], ['c', 'd'], ['c', 'd']],
      [{ a: 'b' }, ['c'], ['c']],
      [{ a: 'foo' }, null, null],
      [{ a: 'foo' }, 'bar', 'bar'],
      [{ e: null }, { a: 1 }, { e: null, a: 1 }],
      [[1, 2], { a: 'b', c: null }, { a: 'b' }],
      [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
    ];
    for (const [target, patch, want] of cases) assert.deepEqual(mergePatch(target, patch), want, JSON.stringify([target, patch]));
  });
  it('cannot pollute prototypes', () => {
    const out = mergePatch({}, JSON.parse('{"__proto__": {"polluted": 1}}')) as Record<string, unknown>;
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    applyMerge({}, {}, JSON.parse('{"__proto__": {"polluted": 1}}'));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
  it('apply merge: sets named fields, removes dropped ones, keeps the rest', () => {
    const current = { spec: { a: 1, b: 2, c: 3 }, status: { s: 1 }, metadata: { labels: { mine: 'x', theirs: 'y' } } };
    const last = { spec: { a: 1, b: 2 }, metadata: { labels: { mine: 'x' } } };
    const applied = { spec: { a: 5 }, metadata: { labels: {} } };
    assert.deepEqual(applyMerge(current, last, applied), { spec: { a: 5, c: 3 }, status: { s: 1 }, metadata: { labels: { theirs: 'y' } } });
    assert.deepEqual(applyMerge({ l: [1, 2, 3] }, { l: [1] }, { l: [4] }), { l: [4] }, 'lists are atomic');
  });
});

describe('table helpers', () => {
  it('evaluates printer-column JSONPaths', () => {
    const o = { status: { conditions: [{ type: 'A', status: 'False' }, { type: 'Ready', status: 'True' }] }, spec: { l: [1, 2] } };
    assert.deepEqual(evalJsonPath(o, '.status.conditions[?(@.type=="Ready")].status'), ['True']);
    assert.deepEqual(evalJsonPath(o, '.spec.l[1]'), [2]);
    assert.deepEqual(evalJsonPath(o, '{.spec.l[*]}'), [1, 2]);
    assert.deepEqual(evalJsonPath(o, '.spec.missing.deeper'), []);
  });
  it('humanizes ages like kubectl', () => {
    const s = 1000;
    assert.equal(humanDuration(5 * s), '5s');
    assert.equal(humanDuration(150 * s), '2m30s');
    assert.equal(humanDuration(17 * 60 * s), '17m');
    assert.equal(humanDuration((5 * 3600 + 3 * 60) * s), '5h3m');
    assert.equal(humanDuration(30 * 3600 * s), '30h');
    assert.equal(humanDuration((3 * 24 + 4) * 3600 * s), '3d4h');
    assert.equal(humanDuration(400 * 24 * 3600 * s), '400d');
  });
});
