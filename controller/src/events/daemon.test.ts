// Events in the real daemon: recorded over HTTP, listed by stock kubectl (events.sandkasten.dev,
// short name ev, field selectors), and swept event_ttl_seconds after they were last seen.
// The kubectl part is skipped when kubectl is not installed.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Event } from '@sandkasten/api-schemas';
import { removeDir, startDaemon, tempDir, type Daemon } from '../bin/testutil.js';
import type { RuntimeObject } from '../runtime/types.js';
import { httpEventSink, type HttpEventSink } from './http-sink.js';
import { EventRecorder } from './recorder.js';
import { event } from './sink-conformance.js';

const hasKubectl = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;
const GV = '/apis/sandkasten.dev/v1';

describe('Events in the daemon', () => {
  let dir: string;
  let daemon: Daemon;
  let sink: HttpEventSink;
  let dev: RuntimeObject;

  const req = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(daemon.url + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & { items?: Event[] } };
  };

  const kubectl = (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      const env = { ...process.env, KUBECONFIG: '/dev/null', HOME: dir };
      const p = spawn('kubectl', ['--server', daemon.url, '--cache-dir', join(dir, 'cache'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      p.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  before(async () => {
    dir = tempDir('sk-events-');
    mkdirSync(join(dir, 'data'));
    daemon = await startDaemon({ dir, config: `listen: "127.0.0.1:0"\napi_key: ""\ndata_dir: "${join(dir, 'data')}"\nevent_ttl_seconds: 30\n` });
    sink = httpEventSink({ baseUrl: daemon.url });
    // The object the Events are about, as the API would hand it out. Not created: the daemon's
    // Session controller would record its own Events about a real one.
    dev = { apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name: 'dev', namespace: 'default', uid: randomUUID() } };
  });
  after(async () => {
    sink?.close();
    await daemon?.stop();
    removeDir(dir);
  });

  it('answers core discovery as a server without core resources', async () => {
    const api = await req('GET', '/api');
    assert.deepEqual(api.body.versions, []);
    const v1 = await req('GET', '/api/v1');
    assert.equal(v1.status, 404);
    assert.equal(v1.body.kind, 'Status');
    const group = await req('GET', GV);
    const ev = (group.body.resources as { name: string; shortNames?: string[]; namespaced: boolean; kind: string }[]).find((r) => r.name === 'events');
    assert.deepEqual(ev && { kind: ev.kind, shortNames: ev.shortNames, namespaced: ev.namespaced }, { kind: 'Event', shortNames: ['ev'], namespaced: true });
  });

  it('lists recorded Events with kubectl', { skip: !hasKubectl && 'kubectl not installed' }, async () => {
    const rec = new EventRecorder({ sink, component: 'session-controller' });
    rec.event(dev, 'Normal', 'SandboxStarted', 'started sandbox');
    rec.event(dev, 'Warning', 'ProbeFailed', 'shell did not answer');
    rec.event(dev, 'Warning', 'ProbeFailed', 'shell did not answer');
    await rec.flush();
    assert.equal(rec.stats.written, 2);

    // "events" resolves to ours: the server has no core v1 events.
    let r = await kubectl(['get', 'events']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^NAME\s+LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$/);
    assert.equal(lines.length, 3);
    assert.ok(lines.some((l) => /^dev\.[0-9a-f]{16}\s+\d+s\s+Warning\s+ProbeFailed\s+dev\s+shell did not answer$/.test(l)), r.stdout);

    r = await kubectl(['get', 'events.sandkasten.dev', '-A', '-o', 'wide']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^NAMESPACE\s+NAME\s+LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE\s+KIND\s+SOURCE\s+FIRST SEEN\s+COUNT\n/);
    assert.match(r.stdout, /\ndefault\s+dev\.\S+\s+\d+s\s+Warning\s+ProbeFailed\s+dev\s+shell did not answer\s+Session\s+session-controller\s+\d+s\s+2\n/);

    r = await kubectl(['get', 'ev', '--field-selector', 'involvedObject.name=dev,type=Normal', '-o', 'jsonpath={.items[*].reason}']);
    assert.equal(r.stdout, 'SandboxStarted', r.stderr);
    r = await kubectl(['get', 'ev', '--field-selector', 'involvedObject.name=nobody']);
    assert.match(r.stderr, /No resources found in default namespace/);
    r = await kubectl(['get', 'ev', '--field-selector', 'spec.image=base']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /field label not supported: spec\.image/);
    r = await kubectl(['explain', 'events.involvedObject']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /uid/);
  });

  it('deletes Events event_ttl_seconds after they were last seen', async () => {
    const old = new Date(Date.now() - 60_000).toISOString();
    const r = await req('POST', `${GV}/namespaces/default/events`, event('default', 'dev.old', { firstTimestamp: old, lastTimestamp: old }));
    assert.equal(r.status, 201);
    // With a 30 s TTL the sweep runs every 3 s.
    const deadline = Date.now() + 8000;
    let status = 200;
    while (status === 200 && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 100));
      status = (await req('GET', `${GV}/namespaces/default/events/dev.old`)).status;
    }
    assert.equal(status, 404);
    assert.match(daemon.output(), /events: deleted \d+ last seen more than 30s ago/);
  });
});
