import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLoopbackRegistry, manifestRef, parseReference, ReferenceError } from './reference.js';

const D = `sha256:${'ab'.repeat(32)}`;

test('Docker Hub short names are completed as docker does', () => {
  const r = parseReference('python:3.12-slim');
  assert.deepEqual(r, { registry: 'docker.io', host: 'registry-1.docker.io', repository: 'library/python', tag: '3.12-slim', canonical: 'docker.io/library/python:3.12-slim' });
  assert.equal(parseReference('ubuntu').canonical, 'docker.io/library/ubuntu:latest');
  assert.equal(parseReference('bitnami/redis:7').canonical, 'docker.io/bitnami/redis:7');
  assert.equal(parseReference('docker.io/python').canonical, 'docker.io/library/python:latest');
  assert.equal(parseReference('index.docker.io/library/python:3').canonical, 'docker.io/library/python:3');
});

test('registries: a first component with a dot, a port or localhost', () => {
  const r = parseReference('127.0.0.1:5000/team/app:v1');
  assert.equal(r.registry, '127.0.0.1:5000');
  assert.equal(r.host, '127.0.0.1:5000');
  assert.equal(r.repository, 'team/app');
  assert.equal(r.tag, 'v1');
  assert.equal(parseReference('localhost/app').registry, 'localhost');
  assert.equal(parseReference('ghcr.io/org/tool').canonical, 'ghcr.io/org/tool:latest');
  assert.equal(parseReference('[::1]:5000/app:1').registry, '[::1]:5000');
  // Without a dot, port or "localhost", the first component is a Docker Hub namespace.
  assert.equal(parseReference('myorg/app').canonical, 'docker.io/myorg/app:latest');
});

test('digests pin the content; tag and digest together keep both', () => {
  const r = parseReference(`alpine@${D}`);
  assert.equal(r.digest, D);
  assert.equal(r.tag, undefined);
  assert.equal(manifestRef(r), D);
  const both = parseReference(`reg.example:443/a/b:1.0@${D}`);
  assert.equal(both.tag, '1.0');
  assert.equal(manifestRef(both), D);
  assert.equal(both.canonical, `reg.example:443/a/b:1.0@${D}`);
  assert.equal(manifestRef(parseReference('a:b')), 'b');
});

test('invalid references are refused with the reason', () => {
  const cases: [string, RegExp][] = [
    ['', /empty/],
    ['Python:3', /must be lowercase/],
    ['a b', /white space/],
    ['app:-x', /tag/],
    [`app@sha256:xyz`, /digest/],
    ['reg.io//app', /empty repository path component/],
    ['app/', /empty repository path component/],
    ['a/-b', /path component "-b"/],
    ['bad_host.io:99999999/x', /registry/],
  ];
  for (const [input, re] of cases) {
    assert.throws(() => parseReference(input), (e: unknown) => e instanceof ReferenceError && re.test(e.message), input);
  }
});

test('loopback registries', () => {
  for (const h of ['127.0.0.1:5000', '127.1.2.3', 'localhost:80', 'localhost', '[::1]:5000']) assert.ok(isLoopbackRegistry(h), h);
  for (const h of ['10.0.0.1:5000', 'registry-1.docker.io', 'localhost.example.com', '128.0.0.1']) assert.ok(!isLoopbackRegistry(h), h);
});
