// Stock kubectl against the real daemon: discovery, get/list in every output format, watch,
// create, client-side and server-side apply, patch, label, delete, explain, dry runs, errors.
// Over HTTPS with a bearer token (kubectl sends tokens only over TLS) and over plain HTTP with
// an open API. Skipped when kubectl (or openssl, for the TLS part) is not installed.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeCert, removeDir, startDaemon, tempDir, type Daemon } from '../bin/testutil.js';

const hasKubectl = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function kubectlRunner(base: string[], cacheDir: string) {
  const env = { ...process.env, KUBECONFIG: '/dev/null', HOME: cacheDir };
  const args = (a: string[]) => [...base, '--cache-dir', join(cacheDir, 'cache'), ...a];
  return {
    run(a: string[], input?: string): Promise<Run> {
      return new Promise((resolve) => {
        const p = spawn('kubectl', args(a), { env, stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        p.on('close', (code) => resolve({ code, stdout, stderr }));
        p.stdin.end(input ?? '');
      });
    },
    /** A long-running kubectl (get -w): its output so far, and kill(). */
    start(a: string[]) {
      const p = spawn('kubectl', args(a), { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const out = { text: '' };
      p.stdout.on('data', (c: Buffer) => (out.text += c.toString()));
      p.stderr.on('data', (c: Buffer) => (out.text += c.toString()));
      return {
        out,
        async waitFor(re: RegExp, ms = 10_000) {
          const deadline = Date.now() + ms;
          while (!re.test(out.text)) {
            if (Date.now() > deadline) throw new Error(`kubectl output never matched ${re}: ${out.text}`);
            await new Promise((r) => setTimeout(r, 50));
          }
        },
        kill: () => p.kill('SIGTERM'),
      };
    },
  };
}

const manifest = (name: string, extra = '') => `apiVersion: sandkasten.dev/v1
kind: Session
metadata:
  name: ${name}
  labels:
    app: demo
spec:
  image: base
${extra}`;

describe('kubectl over HTTPS with a token', { skip: !hasKubectl && 'kubectl not installed' }, () => {
  let dir: string;
  let daemon: Daemon;
  let k: ReturnType<typeof kubectlRunner>;
  let tls: { cert: string; key: string } | undefined;
  before(async () => {
    dir = tempDir('sk-kubectl-');
    tls = makeCert(dir);
    if (!tls) return;
    daemon = await startDaemon({ dir, args: ['--tls-cert-file', tls.cert, '--tls-private-key-file', tls.key] });
    k = kubectlRunner(['--server', daemon.url, '--certificate-authority', tls.cert, '--token', 'test-key'], dir);
  });
  after(async () => {
    await daemon?.stop();
    removeDir(dir);
  });

  it('rejects a wrong token', async (t) => {
    if (!tls) return t.skip('openssl not installed');
    const bad = kubectlRunner(['--server', daemon.url, '--certificate-authority', tls.cert, '--token', 'wrong'], dir);
    const r = await bad.run(['get', 'sessions']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Unauthorized|logged in/);
  });

  it('creates, gets and lists in every output format', async (t) => {
    if (!tls) return t.skip('openssl not installed');
    let r = await k.run(['get', 'sessions']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr + r.stdout, /No resources found in default namespace/);
    writeFileSync(join(dir, 'k1.yaml'), manifest('k1'));
    r = await k.run(['create', '-f', join(dir, 'k1.yaml')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'session.sandkasten.dev/k1 created');
    r = await k.run(['create', '-f', '-'], manifest('k2'));
    assert.equal(r.code, 0, r.stderr);
    r = await k.run(['get', 'sessions']);
    assert.match(r.stdout, /^NAME\s+PHASE\s+IMAGE\s+AGE\n/);
    // PHASE is what the daemon's Session controller has reached so far (nothing, Starting, Ready…).
    assert.match(r.stdout, /\nk1\s+(?:[A-Z]\w+\s+)?base\s+\d+s\n/);
    r = await k.run(['get', 'session', 'k1']);
    assert.match(r.stdout, /^NAME\s+PHASE\s+IMAGE\s+AGE\nk1\s+(?:[A-Z]\w+\s+)?base\s+\d+s\n$/);
    r = await k.run(['get', 'ses', '-o', 'wide']);
    assert.match(r.stdout, /^NAME\s+PHASE\s+IMAGE\s+AGE\s+NETWORK/);
    assert.match(r.stdout, /k1\s+(?:[A-Z]\w+\s+)?base\s+\d+s\s+none/);
    r = await k.run(['get', 'sessions.sandkasten.dev', '-o', 'name']);
    assert.equal(r.stdout, 'session.sandkasten.dev/k1\nsession.sandkasten.dev/k2\n');
    r = await k.run(['get', 'session', 'k1', '-o', 'json']);
    const obj = JSON.parse(r.stdout) as { kind: string; metadata: { name: string; uid: string; resourceVersion: string } };
    assert.equal(obj.kind, 'Session');
    assert.equal(obj.metadata.name, 'k1');
    r = await k.run(['get', 'sessions', '-o', 'json']);
    assert.equal((JSON.parse(r.stdout) as { items: unknown[] }).items.length, 2);
    r = await k.run(['get', 'sessions', 'k1', '-o', 'yaml']);
    assert.match(r.stdout, /^apiVersion: sandkasten\.dev\/v1\nkind: Session\n/);
    assert.match(r.stdout, new RegExp(`uid: ${obj.metadata.uid}`));
    r = await k.run(['get', 'sessions', '-A']);
    assert.match(r.stdout, /^NAMESPACE\s+NAME\s+PHASE/);
    assert.match(r.stdout, /\ndefault\s+k1\s/);
    r = await k.run(['get', 'sessions', '-l', 'app=demo,app!=x', '-o', 'name']);
    assert.equal(r.stdout.split('\n').filter(Boolean).length, 2);
    r = await k.run(['get', 'sessions', '-o', 'jsonpath={.items[*].spec.network.mode}']);
    assert.equal(r.stdout, 'none none');
    r = await k.run(['get', 'sessions', '-n', 'other']);
    assert.match(r.stderr, /No resources found in other namespace/);
    r = await k.run(['get', 'images']);
    assert.equal(r.code, 0, r.stderr);
    r = await k.run(['get', 'sessions', 'absent']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Error from server \(NotFound\): sessions\.sandkasten\.dev "absent" not found/);
    r = await k.run(['create', '-f', join(dir, 'k1.yaml')]);
    assert.match(r.stderr, /AlreadyExists/);
  });

  it('client-side apply creates, updates and removes dropped fields', async (t) => {
    if (!tls) return t.skip('openssl not installed');
    const f = join(dir, 'ca.yaml');
    writeFileSync(f, manifest('ca', '  ttlSeconds: 60\n'));
    let r = await k.run(['apply', '-f', f]);
    assert.equal(r.stdout.trim(), 'session.sandkasten.dev/ca created', r.stderr);
    writeFileSync(f, manifest('ca', '  maxLifetimeSeconds: 600\n'));
    r = await k.run(['apply', '-f', f]);
    assert.equal(r.stdout.trim(), 'session.sandkasten.dev/ca configured', r.stderr);
    r = await k.run(['get', 'session', 'ca', '-o', 'jsonpath={.spec.ttlSeconds}/{.spec.maxLifetimeSeconds}/{.metadata.generation}']);
    assert.equal(r.stdout, '/600/2');
    r = await k.run(['apply', '-f', f]);
    assert.equal(r.stdout.trim(), 'session.sandkasten.dev/ca unchanged');
  });

  it('server-side apply creates, updates and removes dropped fields; --dry-run=server writes nothing', async (t) => {
    if (!tls) return t.skip('openssl not installed');
    const f = join(dir, 'ssa.yaml');
    writeFileSync(f, manifest('ssa', '  ttlSeconds: 60\n'));
    let r = await k.run(['apply', '--server-side', '-f', f]);
    assert.equal(r.stdout.trim(), 'session.sandkasten.dev/ssa serverside-applied', r.stderr);
    await k.run(['label', 'session', 'ssa', 'extra=by-hand']);
    writeFileSync(f, manifest('ssa'));
    r = await k.run(['apply', '--server-side', '--force-conflicts', '-f', f]);
    assert.equal(r.code, 0, r.stderr);
    r = await k.run(['get', 'session', 'ssa', '-o', 'jsonpath={.spec.ttlSeconds}|{.metadata.labels.extra}']);
    assert.equal(r.stdout, '|by-hand');
    writeFileSync(f, manifest('ssa-dry'));
    r = await k.run(['apply', '--server-side', '--dry-run=server', '-f', f]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /serverside-applied \(server dry run\)/);
    r = await k.run(['get', 'session', 'ssa-dry']);
    assert.match(r.stderr, /NotFound/);
  });

  it('patches, labels, annotates; strategic merge is refused as for custom resources', async (t) => {
    if (!tls) return t.skip('openssl not installed');
    let r = await k.run(['patch', 'session', 'k1', '--type=merge', '-p', '{"spec":{"ttlSeconds":5}}']);
    assert.equal(r.stdout.trim(), 'session.sandkasten.dev/k1 patched', r.stderr);
    r = await k.run(['patch', 'session', 'k1', '--type=json', '-p', '[{"op":"replace","path":"/spec/ttlSeconds","value":6}]']);
    assert.equal(r.code, 0, r.stderr);
    r = await k.run(['annotate', 'session', 'k1', 'note=hello']);
    assert.equal(r.code, 0, r.stderr);
    r = await k.run(['get', 'session', 'k1', '-o', 'jsonpath={.spec.ttlSeconds} {.metadata.annotations.note}']);
    assert.equal(r.stdout, '6 hello');
    r = await k.run(['patch', 'session', 'k1', '-p', '{"spec":{"ttlSeconds":7}}']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /strategic-merge-patch\+json is not supported/);
  });

  it('reports validation errors: unknown fields (strict) and bad values', async (t) => {
    if (!tls) return t.skip('openssl not installed');
    let r = await k.run(['create', '-f', '-'], manifest('bad', '  foo: 1\n'));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /strict decoding error: unknown field "spec\.foo"/);
    r = await k.run(['create', '-f', '-'], manifest('bad', '  network:\n    mode: sideways\n'));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Session "bad" is invalid: spec\.network\.mode: Unsupported value: "sideways"/);
    r = await k.run(['explain', 'sessions.spec.network']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /mode/);
  });

  it('watches with get -w', async (t) => {
    if (!tls) return t.skip('openssl not installed');
    const w = k.start(['get', 'sessions', '-w']);
    try {
      await w.waitFor(/k1\s/);
      await k.run(['create', '-f', '-'], manifest('watched'));
      await w.waitFor(/watched\s/);
      const jw = k.start(['get', 'sessions', 'watched', '-w', '-o', 'json', '--output-watch-events']);
      try {
        await jw.waitFor(/"type": ?"ADDED"/);
        await k.run(['label', 'session', 'watched', 'x=y']);
        await jw.waitFor(/"type": ?"MODIFIED"/);
      } finally {
        jw.kill();
      }
    } finally {
      w.kill();
    }
  });

  it('deletes, also by file and label', async (t) => {
    if (!tls) return t.skip('openssl not installed');
    let r = await k.run(['delete', 'session', 'k2']);
    assert.equal(r.stdout.trim(), 'session.sandkasten.dev "k2" deleted', r.stderr);
    r = await k.run(['delete', '-f', join(dir, 'k1.yaml')]);
    assert.equal(r.code, 0, r.stderr);
    r = await k.run(['delete', 'sessions', '-l', 'app=demo']);
    assert.equal(r.code, 0, r.stderr);
    r = await k.run(['get', 'sessions', '-o', 'name']);
    assert.equal(r.stdout, '');
  });
});

describe('kubectl over plain HTTP with an open API', { skip: !hasKubectl && 'kubectl not installed' }, () => {
  it('works without credentials on loopback', async () => {
    const dir = tempDir('sk-kubectl-open-');
    mkdirSync(join(dir, 'data'));
    const daemon = await startDaemon({ dir, config: `listen: "127.0.0.1:0"\napi_key: ""\ndata_dir: "${join(dir, 'data')}"\n` });
    try {
      const k = kubectlRunner(['--server', daemon.url], dir);
      let r = await k.run(['apply', '-f', '-'], manifest('open'));
      assert.equal(r.stdout.trim(), 'session.sandkasten.dev/open created', r.stderr);
      r = await k.run(['get', 'sessions', '-o', 'name']);
      assert.equal(r.stdout, 'session.sandkasten.dev/open\n');
      r = await k.run(['delete', 'session', 'open']);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      await daemon.stop();
      removeDir(dir);
    }
  });
});
