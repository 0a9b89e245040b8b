// The HTTP EventSink against the conformance suite, over a real API server on 127.0.0.1.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../apiserver/testutil.js';
import { httpEventSink } from './http-sink.js';
import { event, sinkConformance } from './sink-conformance.js';

sinkConformance('http', (server) => httpEventSink({ baseUrl: server.url, token: server.apiKey }));

test('http sink: a wrong token and an unreachable server are errors, not results', async () => {
  const server = await startServer();
  const bad = httpEventSink({ baseUrl: server.url, token: 'wrong' });
  try {
    await assert.rejects(bad.create(event('default', 'x.1')), /create event default\/x\.1: Unauthorized/);
  } finally {
    bad.close();
    await server.cleanup();
  }
  const gone = httpEventSink({ baseUrl: server.url, timeoutMs: 2000 });
  try {
    await assert.rejects(gone.list(), /GET \/apis\/sandkasten\.dev\/v1\/events\?limit=500: .*ECONNREFUSED/);
  } finally {
    gone.close();
  }
  assert.throws(() => httpEventSink({ baseUrl: 'ftp://x' }), /unsupported URL scheme/);
});
