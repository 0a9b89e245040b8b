// The real daemon binary: arguments, config and environment, startup refusals, signals, and no
// acknowledged write lost to kill -9.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { makeCert, runBin, removeDir, startDaemon, tempDir } from './testutil.js';

/** GET over HTTPS trusting only `ca`: the status code, or the error's code. */
function httpsGet(url: string, ca: Buffer, token = 'test-key'): Promise<number | string> {
  return new Promise((resolve) => {
    const req = https.get(url, { ca, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

const dirs: string[] = [];
const dir = () => {
  const d = tempDir();
  dirs.push(d);
  return d;
};
after(() => dirs.forEach(removeDir));

describe('sandkasten binary', () => {
  it('--help and --version', () => {
    const h = runBin(['--help']);
    assert.equal(h.status, 0);
    assert.match(h.stdout, /Usage: sandkasten/);
    const v = runBin(['--version']);
    assert.equal(v.status, 0);
    assert.match(v.stdout, /^sandkasten \d+\.\d+\.\d+\n$/);
    const bad = runBin(['--frobnicate']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /unknown argument "--frobnicate"/);
  });

  it('exits 2 naming the key for an invalid config, a bad env override, or bad YAML', () => {
    const d = dir();
    const cfg = join(d, 'c.yaml');
    writeFileSync(cfg, `listen: "127.0.0.1:0"\ndata_dir: "${d}/data"\ndefaults:\n  mem_limit_mb: "lots"\n`);
    let r = runBin(['--config', cfg]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /defaults\.mem_limit_mb/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    writeFileSync(cfg, `listen: "127.0.0.1:0"\ndata_dir: "${d}/data"\nlisten_adress: x\n`);
    r = runBin(['--config', cfg]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown key "listen_adress"/);
    writeFileSync(cfg, `listen: [unclosed\n`);
    r = runBin(['--config', cfg]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /invalid YAML/);
    writeFileSync(cfg, `data_dir: "${d}/data"\n`);
    r = runBin(['--config', cfg], { SANDKASTEN_SESSION_TTL_SECONDS: 'soon' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /SANDKASTEN_SESSION_TTL_SECONDS/);
    r = runBin(['--config', join(d, 'missing.yaml')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /cannot read config file/);
  });

  it('--api-only stores objects but runs no controller', async () => {
    const d = await startDaemon({ args: ['--api-only'] });
    try {
      assert.match(d.output(), /API only: no controllers/);
      const base = `${d.url}/apis/sandkasten.dev/v1/namespaces/default/sessions`;
      const headers = { authorization: 'Bearer test-key', 'content-type': 'application/json' };
      const body = JSON.stringify({ apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name: 'idle' }, spec: {} });
      assert.equal((await fetch(base, { method: 'POST', headers, body })).status, 201);
      await new Promise((r) => setTimeout(r, 1500));
      const got = (await (await fetch(`${base}/idle`, { headers })).json()) as { metadata: { finalizers?: string[] }; status?: unknown };
      assert.equal(got.metadata.finalizers, undefined, 'no reconciler added its finalizer');
      assert.equal(got.status, undefined, 'no reconciler wrote status');
      const sessions = join(d.dataDir, 'sessions');
      assert.equal(existsSync(sessions) ? readdirSync(sessions).length : 0, 0, 'no sandbox was made');
    } finally {
      assert.equal(await d.stop(), 0);
      removeDir(d.dir);
    }
  });

  it('refuses a non-loopback address without an api_key', () => {
    const d = dir();
    const cfg = join(d, 'c.yaml');
    writeFileSync(cfg, `listen: "0.0.0.0:0"\napi_key: ""\ndata_dir: "${d}/data"\n`);
    let r = runBin(['--config', cfg]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /refusing to listen on 0\.0\.0\.0:0 without an api_key/);
    writeFileSync(cfg, `listen: "127.0.0.1:0"\napi_key: ""\ndata_dir: "${d}/data"\n`);
    r = runBin(['--config', cfg], { SANDKASTEN_LISTEN: '0.0.0.0:0' });
    assert.equal(r.status, 2, 'the environment override is checked too');
    assert.equal(existsSync(join(d, 'data')), false, 'nothing created before the checks');
  });

  it('applies SANDKASTEN_* overrides, creates data_dir, logs one listening line, exits 0 on SIGTERM and SIGINT', async () => {
    const d = dir();
    const envData = join(d, 'from-env');
    const daemon = await startDaemon({ dir: d, env: { SANDKASTEN_DATA_DIR: envData, SANDKASTEN_API_KEY: 'env-key', SANDKASTEN_LISTEN: '127.0.0.1:0' } });
    assert.ok(statSync(join(envData, 'sandkasten.db')).isFile(), 'data_dir from the environment, database created');
    assert.equal((daemon.output().match(/listening on/g) ?? []).length, 1);
    let r = await fetch(`${daemon.url}/apis`, { headers: { authorization: 'Bearer test-key' } });
    assert.equal(r.status, 401, 'the file key is overridden');
    r = await fetch(`${daemon.url}/apis`, { headers: { authorization: 'Bearer env-key' } });
    assert.equal(r.status, 200);
    assert.equal(await daemon.stop('SIGTERM'), 0);
    const again = await startDaemon({ dir: d, env: { SANDKASTEN_DATA_DIR: envData, SANDKASTEN_API_KEY: 'env-key' } });
    assert.equal(await again.stop('SIGINT'), 0);
  });

  it('loses no acknowledged write to kill -9 during a burst of creates', async () => {
    const d = dir();
    const daemon = await startDaemon({ dir: d });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const acked: string[] = [];
    let n = 0;
    let stop = false;
    const post = (name: string) =>
      new Promise<number>((resolve) => {
        const body = JSON.stringify({ apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name }, spec: { image: 'base' } });
        const req = http.request(
          `${daemon.url}/apis/sandkasten.dev/v1/namespaces/default/sessions`,
          { method: 'POST', agent, headers: { authorization: 'Bearer test-key', 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
            res.on('error', () => resolve(0));
          },
        );
        req.on('error', () => resolve(0));
        req.end(body);
      });
    const worker = async () => {
      while (!stop) {
        const name = `burst-${n++}`;
        if ((await post(name)) === 201) acked.push(name);
      }
    };
    const workers = Array.from({ length: 16 }, worker);
    while (acked.length < 300) await new Promise((r) => setTimeout(r, 10));
    daemon.child.kill('SIGKILL');
    await daemon.exited;
    stop = true;
    await Promise.all(workers);
    agent.destroy();
    const restarted = await startDaemon({ dir: d });
    try {
      const r = await fetch(`${restarted.url}/apis/sandkasten.dev/v1/namespaces/default/sessions`, { headers: { authorization: 'Bearer test-key' } });
      const names = new Set(((await r.json()) as { items: { metadata: { name: string } }[] }).items.map((i) => i.metadata.name));
      const lost = acked.filter((a) => !names.has(a));
      assert.deepEqual(lost, [], `${lost.length} of ${acked.length} acknowledged creates lost`);
    } finally {
      assert.equal(await restarted.stop(), 0);
    }
  });

  describe('TLS', () => {
    const d = dir();
    const tls = makeCert(d);
    const other = makeCert(dir());
    const base = `listen: "127.0.0.1:0"\napi_key: "test-key"\ndata_dir: "${d}/data"\n`;

    it('serves HTTPS with tls_cert_file and tls_key_file from the config file or the environment', async (t) => {
      if (!tls) return t.skip('openssl not installed');
      const ca = readFileSync(tls.cert);
      let daemon = await startDaemon({ dir: d, config: `${base}tls_cert_file: "${tls.cert}"\ntls_key_file: "${tls.key}"\n` });
      try {
        assert.match(daemon.url, /^https:\/\/127\.0\.0\.1:\d+$/);
        assert.equal(await httpsGet(`${daemon.url}/apis/sandkasten.dev/v1/namespaces/default/sessions`, ca), 200);
        assert.equal(await httpsGet(`${daemon.url}/apis`, ca, 'wrong'), 401);
        assert.equal(await httpsGet(`${daemon.url}/healthz`, readFileSync(other!.cert)), 'DEPTH_ZERO_SELF_SIGNED_CERT', 'the configured certificate is the one served');
        await assert.rejects(fetch(`http://127.0.0.1:${daemon.port}/healthz`), 'no plain HTTP on the TLS port');
      } finally {
        assert.equal(await daemon.stop(), 0);
      }
      daemon = await startDaemon({ dir: d, config: base, env: { SANDKASTEN_TLS_CERT_FILE: tls.cert, SANDKASTEN_TLS_KEY_FILE: tls.key } });
      try {
        assert.equal(await httpsGet(`${daemon.url}/healthz`, ca), 200);
      } finally {
        assert.equal(await daemon.stop(), 0);
      }
    });

    it('lets the flags override the config keys', async (t) => {
      if (!tls || !other) return t.skip('openssl not installed');
      const daemon = await startDaemon({
        dir: d,
        config: `${base}tls_cert_file: "${d}/absent.pem"\ntls_key_file: "${d}/absent-key.pem"\n`,
        args: ['--tls-cert-file', other.cert, '--tls-private-key-file', other.key],
      });
      try {
        assert.equal(await httpsGet(`${daemon.url}/healthz`, readFileSync(other.cert)), 200);
      } finally {
        assert.equal(await daemon.stop(), 0);
      }
    });

    it('exits 2 for half a pair, an unreadable file, or files that are not a certificate and its key', (t) => {
      if (!tls || !other) return t.skip('openssl not installed');
      const fresh = dir();
      const cfg = join(fresh, 'tls.yaml');
      const base = `listen: "127.0.0.1:0"\napi_key: "test-key"\ndata_dir: "${fresh}/data"\n`;
      writeFileSync(cfg, `${base}tls_cert_file: "${tls.cert}"\n`);
      let r = runBin(['--config', cfg]);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /set both tls_cert_file and tls_key_file/);
      writeFileSync(cfg, `${base}tls_cert_file: "${d}/absent.pem"\ntls_key_file: "${tls.key}"\n`);
      r = runBin(['--config', cfg]);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /TLS certificate .*absent\.pem: cannot read: no such file/);
      writeFileSync(cfg, `${base}tls_cert_file: "${tls.cert}"\ntls_key_file: "${other.key}"\n`);
      r = runBin(['--config', cfg]);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /not a usable PEM certificate and key/);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
      assert.equal(existsSync(join(fresh, 'data')), false, 'nothing created before the checks');
    });
  });
});
