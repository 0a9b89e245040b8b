// Pulls from a real distribution registry (/usr/bin/docker-registry) on a loopback port, filled
// with skopeo from OCI layouts built here: content, whiteouts, platforms, corruption, auth (Basic
// by the registry itself; bearer tokens by a small token server in front of it), resume,
// concurrency, progress, garbage collection.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { getAttributeSync } from '@napi-rs/xattr';
import { collectGarbage } from './gc.js';
import { readImageMeta } from './meta.js';
import { pullImage, PullError, type PullProgress } from './pull.js';
import { pins } from './store.js';
import {
  busyboxEntries,
  listTree,
  makeTar,
  noise,
  pushLayout,
  pushRaw,
  registrySkip,
  htpasswdSkip,
  startRegistry,
  testDir,
  writeOciLayout,
  type TestRegistry,
  type WrittenImage,
} from './testutil.js';

const isRoot = process.getuid?.() === 0;
const hex = (d: string) => d.slice(7);

describe('pullImage from a loopback registry', { skip: registrySkip || (!isRoot && 'needs root (owners, whiteouts)'), timeout: 300_000 }, () => {
  let reg: TestRegistry;
  let dir: string;
  let layout: string;
  let single: WrittenImage;
  let multi: WrittenImage;
  let multiArch: { images: WrittenImage[]; indexDigest?: string };
  let big: WrittenImage;
  let zstd: WrittenImage;
  let n = 0;
  const dataDir = () => join(dir, `data-${n++}`);

  before(async () => {
    reg = await startRegistry();
    dir = testDir('sk-pull-');
    layout = join(dir, 'layout');
    single = writeOciLayout(layout, 'single', {
      layers: [makeTar([{ path: 'hello.txt', content: 'hello\n' }, { path: 'etc/', mode: 0o755 }, { path: 'etc/motd', content: 'hi', mode: 0o600, uid: 1000, gid: 1000 }])],
      config: { Env: ['PATH=/bin', 'A=1'], WorkingDir: '/data', User: 'sandbox', Entrypoint: ['/bin/sh'], Cmd: ['-c', 'true'] },
    }).images[0]!;
    pushLayout(layout, 'single', reg.host, 'test/single');
    multi = writeOciLayout(layout, 'multi', {
      layers: [
        makeTar([{ path: 'data/' }, { path: 'data/keep', content: 'k' }, { path: 'data/gone', content: 'g' }, { path: 'data/dir/' }, { path: 'data/dir/old', content: 'o' }]),
        makeTar([{ path: 'data/.wh.gone' }, { path: 'data/dir/' }, { path: 'data/dir/.wh..wh..opq' }, { path: 'data/dir/new', content: 'n' }]),
        makeTar([{ path: 'data/added', content: 'a' }]),
      ],
    }).images[0]!;
    pushLayout(layout, 'multi', reg.host, 'test/multi', undefined, 'v2s2');
    multiArch = writeOciLayout(layout, 'multiarch', [
      { architecture: 'amd64', layers: [makeTar([{ path: 'arch', content: 'amd64' }])] },
      { architecture: 'arm64', variant: 'v8', layers: [makeTar([{ path: 'arch', content: 'arm64' }])] },
    ]);
    pushLayout(layout, 'multiarch', reg.host, 'test/multiarch');
    big = writeOciLayout(layout, 'big', {
      layers: [0, 1, 2, 3, 4].map((i) => makeTar([{ path: `blob${i}`, content: noise(1 << 20) }])),
    }).images[0]!;
    pushLayout(layout, 'big', reg.host, 'test/big');
    zstd = writeOciLayout(layout, 'zstd', { gzip: false, layerMediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', layers: [makeTar([{ path: 'f', content: 'x' }])] }).images[0]!;
    await pushRaw(layout, zstd.manifestDigest, reg.host, 'test/zstd', 'zstd');
  });
  after(async () => {
    await reg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Nothing of a failed pull is left: no meta.json, no layer, no temp dir, no blob or partial of the layers. */
  function assertNothingInstalled(d: string, name: string, layerDigests: string[]): void {
    assert.equal(readImageMeta(d, name), undefined);
    const layers = existsSync(join(d, 'layers')) ? readdirSync(join(d, 'layers')) : [];
    assert.deepEqual(layers.filter((l) => l.startsWith('.tmp-') || layerDigests.some((x) => l.includes(hex(x)))), []);
    for (const x of layerDigests) {
      assert.ok(!existsSync(join(d, 'blobs/sha256', hex(x))), `blob ${x}`);
      assert.ok(!existsSync(join(d, 'blobs/partial', hex(x))), `partial ${x}`);
    }
  }

  test('a single-layer OCI image: meta.json, the layer exactly, blobs by digest, progress', async () => {
    const d = dataDir();
    const progress: PullProgress[] = [];
    const r = await pullImage({ dataDir: d, name: 'single', reference: `${reg.host}/test/single:single`, onProgress: (p) => progress.push(p) });
    assert.equal(r.digest, single.manifestDigest);
    assert.equal(r.layerCount, 1);
    assert.equal(r.sizeBytes, 8);
    assert.equal(r.downloadedBytes, single.layerSizes[0]);
    const meta = readImageMeta(d, 'single')!;
    assert.deepEqual(meta.layers, [`layers/sha256-${hex(single.layerDigests[0]!)}`]);
    assert.equal(meta.source, `oci://${reg.host}/test/single:single`);
    assert.equal(meta.digest, single.manifestDigest);
    assert.deepEqual(meta.config, { env: ['PATH=/bin', 'A=1'], workingDir: '/data', user: 'sandbox', cmd: ['/bin/sh', '-c', 'true'] });
    assert.deepEqual(meta.blobs?.sort(), [single.manifestDigest, single.configDigest, single.layerDigests[0]!].sort());
    assert.deepEqual(listTree(join(d, meta.layers[0]!)), ['etc dir 755 0:0', 'etc/motd file 600 1000:1000 2', 'hello.txt file 644 0:0 6']);
    for (const b of meta.blobs!) assert.ok(existsSync(join(d, 'blobs/sha256', hex(b))), b);
    assert.deepEqual(readdirSync(join(d, 'blobs/partial')), []);
    assert.equal(statSync(join(d, 'layers')).mode & 0o777, 0o700);
    assert.equal(statSync(join(d, 'blobs')).mode & 0o777, 0o700);
    const last = progress.at(-1)!;
    assert.deepEqual(last, { bytesDone: single.layerSizes[0], bytesTotal: single.layerSizes[0], layersDone: 1, layersTotal: 1 });

    // Again, and under another name: nothing downloaded, the layer shared.
    const again = await pullImage({ dataDir: d, name: 'single2', reference: `${reg.host}/test/single:single` });
    assert.equal(again.downloadedBytes, 0);
    assert.equal(again.reusedLayers, 1);
    assert.deepEqual(readImageMeta(d, 'single2')!.layers, meta.layers);
  });

  test('a multi-layer Docker image: top layer first, whiteout and opaque directory in overlayfs form', async () => {
    const d = dataDir();
    const r = await pullImage({ dataDir: d, name: 'multi', reference: `${reg.host}/test/multi:multi` });
    const meta = readImageMeta(d, 'multi')!;
    assert.deepEqual(meta.layers, [...multi.layerDigests].reverse().map((x) => `layers/sha256-${hex(x)}`));
    assert.equal(r.layerCount, 3);
    // Pushed as Docker schema 2 (skopeo --format v2s2): its manifest is stored by digest.
    const manifest = JSON.parse(readFileSync(join(d, 'blobs/sha256', hex(r.digest)), 'utf8')) as { mediaType: string; layers: { mediaType: string }[] };
    assert.equal(manifest.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(manifest.layers[0]!.mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
    const mid = join(d, meta.layers[1]!);
    assert.deepEqual(listTree(mid), ['data dir 755 0:0', 'data/dir dir 755 0:0', 'data/dir/new file 644 0:0 1', 'data/gone char 0 0:0 0:0']);
    assert.equal(String(getAttributeSync(join(mid, 'data/dir'), 'trusted.overlay.opaque')), 'y');
  });

  test('a multi-platform index resolves to the host platform (or the one asked for)', async () => {
    const d = dataDir();
    const r = await pullImage({ dataDir: d, name: 'ma', reference: `${reg.host}/test/multiarch:multiarch` });
    assert.equal(r.digest, multiArch.indexDigest);
    assert.equal(r.manifestDigest, multiArch.images[0]!.manifestDigest);
    const meta = readImageMeta(d, 'ma')!;
    assert.equal(readFileSync(join(d, meta.layers[0]!, 'arch'), 'utf8'), 'amd64');
    const arm = await pullImage({ dataDir: d, name: 'ma-arm', reference: `${reg.host}/test/multiarch:multiarch`, platform: { os: 'linux', architecture: 'arm64' } });
    assert.equal(arm.manifestDigest, multiArch.images[1]!.manifestDigest);
    assert.equal(readFileSync(join(d, readImageMeta(d, 'ma-arm')!.layers[0]!, 'arch'), 'utf8'), 'arm64');
    // By digest, too.
    const byDigest = await pullImage({ dataDir: d, name: 'ma-digest', reference: `${reg.host}/test/multiarch@${multiArch.indexDigest}` });
    assert.equal(byDigest.manifestDigest, multiArch.images[0]!.manifestDigest);
    await assert.rejects(
      pullImage({ dataDir: d, name: 'ma-s390x', reference: `${reg.host}/test/multiarch:multiarch`, platform: { os: 'linux', architecture: 's390x' } }),
      (e: unknown) => e instanceof PullError && e.reason === 'InvalidManifest' && /no image for this host's platform linux\/s390x in the index \(it offers: linux\/amd64, linux\/arm64\/v8\)/.test(e.message),
    );
    // A single-platform image for another architecture is refused too.
    await assert.rejects(
      pullImage({ dataDir: d, name: 'wrong', reference: `${reg.host}/test/multiarch@${multiArch.images[1]!.manifestDigest}` }),
      /the image is for linux\/arm64\/v8, this host runs linux\/amd64/,
    );
  });

  test('a corrupted blob fails with a digest mismatch and leaves nothing half-installed', async () => {
    const local = join(dir, 'corrupt-layout');
    const img = writeOciLayout(local, 'c', { layers: [makeTar(busyboxEntries()), makeTar([{ path: 'f', content: noise(50_000) }])] }).images[0]!;
    // Corrupted where gzip still inflates (stored random data), and where it breaks the stream
    // early (compressed busybox): both are reported as the digest mismatch they are.
    for (const [repo, layer, at] of [['test/corrupt1', 1, 0.5], ['test/corrupt0', 0, 0.0005]] as const) {
      pushLayout(local, 'c', reg.host, repo);
      const file = reg.blobFile(img.layerDigests[layer]!);
      const bytes = readFileSync(file);
      bytes[Math.floor(bytes.length * at)]! ^= 0xff;
      writeFileSync(file, bytes);
      const d = dataDir();
      await assert.rejects(
        pullImage({ dataDir: d, name: 'corrupt', reference: `${reg.host}/${repo}:c` }),
        (e: unknown) =>
          e instanceof PullError && e.reason === 'DigestMismatch' && e.retryable && new RegExp(`blob ${img.layerDigests[layer]}: digest mismatch: the downloaded content has digest sha256:[0-9a-f]{64}; nothing of it was kept`).test(e.message),
        repo,
      );
      assertNothingInstalled(d, 'corrupt', [img.layerDigests[layer]!]);
      // Registry blobs are shared between repositories: restore it for the next one.
      bytes[Math.floor(bytes.length * at)]! ^= 0xff;
      writeFileSync(file, bytes);
    }
  });

  test('a malicious layer fails the pull: nothing written outside, nothing half-installed', async () => {
    const outside = join(dir, 'outside');
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(outside, 'sentinel'), 'untouched');
    const local = join(dir, 'evil-layout');
    const img = writeOciLayout(local, 'evil', {
      layers: [
        makeTar(busyboxEntries()),
        makeTar([{ path: 'ok', content: 'fine' }, { path: 'escape', type: 'SymbolicLink', linkpath: outside }, { path: 'escape/sentinel', content: 'pwned' }]),
      ],
    }).images[0]!;
    pushLayout(local, 'evil', reg.host, 'test/evil');
    const d = dataDir();
    await assert.rejects(
      pullImage({ dataDir: d, name: 'evil', reference: `${reg.host}/test/evil:evil` }),
      (e: unknown) => e instanceof PullError && e.reason === 'UnsafeArchive' && !e.retryable && /refused: entry "escape\/sentinel": its parent "escape" is a symlink in this archive/.test(e.message),
    );
    assert.equal(readFileSync(join(outside, 'sentinel'), 'utf8'), 'untouched');
    assert.equal(readImageMeta(d, 'evil'), undefined);
    const layers = readdirSync(join(d, 'layers'));
    assert.deepEqual(layers.filter((l) => l.startsWith('.tmp-') || l.includes(hex(img.layerDigests[1]!))), []);
  });

  test('unsupported media types, unknown images and bad references are refused by name', async () => {
    const d = dataDir();
    await assert.rejects(
      pullImage({ dataDir: d, name: 'z', reference: `${reg.host}/test/zstd:zstd` }),
      (e: unknown) => e instanceof PullError && e.reason === 'UnsupportedMediaType' && e.message === `layer ${zstd.layerDigests[0]}: unsupported layer media type application/vnd.oci.image.layer.v1.tar+zstd (supported: gzip-compressed and uncompressed tar)`,
    );
    await assert.rejects(
      pullImage({ dataDir: d, name: 'nope', reference: `${reg.host}/test/nope:1` }),
      (e: unknown) => e instanceof PullError && e.reason === 'NotFound' && !e.retryable && /manifest test\/nope:1 not found in 127\.0\.0\.1:\d+ \(MANIFEST_UNKNOWN: manifest unknown\)$/.test(e.message),
    );
    await assert.rejects(pullImage({ dataDir: d, name: 'bad', reference: 'Bad/Ref' }), (e: unknown) => e instanceof PullError && e.reason === 'InvalidReference');
    assert.equal(readImageMeta(d, 'z'), undefined);
  });

  test('layers download concurrently (at most 3) and a cut download resumes with a Range request', async () => {
    const proxy = await startProxy(reg.host, { delayBlobMs: 150 });
    try {
      const d = dataDir();
      const r = await pullImage({ dataDir: d, name: 'big', reference: `${proxy.host}/test/big:big` });
      assert.equal(r.layerCount, 5);
      assert.equal(proxy.maxConcurrentBlobs, 3);

      // Cut the first download of the second layer after 300 KB.
      const cut = big.layerDigests[1]!;
      const d2 = dataDir();
      proxy.cut = { digest: cut, afterBytes: 300_000 };
      await assert.rejects(pullImage({ dataDir: d2, name: 'big', reference: `${proxy.host}/test/big:big` }), (e: unknown) => e instanceof PullError && e.retryable);
      const partial = join(d2, 'blobs/partial', hex(cut));
      const had = statSync(partial).size;
      assert.ok(had >= 200_000 && had < big.layerSizes[1]!, `partial ${had}`);
      assert.equal(readImageMeta(d2, 'big'), undefined);
      proxy.requests.length = 0;
      const r2 = await pullImage({ dataDir: d2, name: 'big', reference: `${proxy.host}/test/big:big` });
      const ranged = proxy.requests.filter((q) => q.url.includes(hex(cut)));
      assert.deepEqual(ranged.map((q) => q.range), [`bytes=${had}-`]);
      // Only the rest of the cut layer, and the layers the first attempt had not finished.
      assert.ok(r2.downloadedBytes <= big.layerSizes.reduce((a, b) => a + b, 0) - had, `${r2.downloadedBytes}`);
      assert.ok(!existsSync(partial));
      assert.equal(readFileSync(join(d2, readImageMeta(d2, 'big')!.layers[3]!, 'blob1')).length, 1 << 20);
    } finally {
      await proxy.close();
    }
  });

  test('concurrent pulls sharing layers download each blob once; a cancelled pull does not fail the other', async () => {
    const proxy = await startProxy(reg.host, { delayBlobMs: 100 });
    try {
      const d = dataDir();
      const [a, b] = await Promise.all([
        pullImage({ dataDir: d, name: 'a', reference: `${proxy.host}/test/big:big` }),
        pullImage({ dataDir: d, name: 'b', reference: `${proxy.host}/test/big:big` }),
      ]);
      assert.deepEqual(a.meta.layers, b.meta.layers);
      for (const l of big.layerDigests) assert.equal(proxy.requests.filter((q) => q.url.endsWith(`/blobs/${l}`)).length, 1, l);
      assert.equal(a.downloadedBytes + b.downloadedBytes, big.layerSizes.reduce((x, y) => x + y, 0));

      const d2 = dataDir();
      const stop = new AbortController();
      const cancelled = pullImage({ dataDir: d2, name: 'c', reference: `${proxy.host}/test/big:big`, signal: stop.signal });
      const other = pullImage({ dataDir: d2, name: 'o', reference: `${proxy.host}/test/big:big` });
      setTimeout(() => stop.abort(new Error('stop')), 150);
      await assert.rejects(cancelled, (e: unknown) => e instanceof PullError && e.reason === 'Cancelled');
      assert.equal((await other).layerCount, 5);
      assert.equal(readImageMeta(d2, 'c'), undefined);
    } finally {
      await proxy.close();
    }
  });

  test('bearer-token authentication: the challenge, the token request with credentials, tokens reused', async () => {
    const proxy = await startProxy(reg.host, { bearer: { username: 'alice', password: 's3cret' } });
    try {
      const d = dataDir();
      await assert.rejects(
        pullImage({ dataDir: d, name: 'anon', reference: `${proxy.host}/test/single:single` }),
        (e: unknown) => e instanceof PullError && e.reason === 'Unauthorized' && /the token service refused anonymous access \(401\)/.test(e.message),
      );
      await assert.rejects(
        pullImage({ dataDir: d, name: 'wrong', reference: `${proxy.host}/test/single:single`, credentials: () => ({ username: 'alice', password: 'nope' }) }),
        /refused the credentials of "alice"/,
      );
      proxy.tokenRequests.length = 0;
      const r = await pullImage({ dataDir: d, name: 'tok', reference: `${proxy.host}/test/multi:multi`, credentials: (registry) => (registry === proxy.host ? { username: 'alice', password: 's3cret' } : undefined) });
      assert.equal(r.layerCount, 3);
      assert.equal(proxy.tokenRequests.length, 1, 'one token for the whole pull');
      const t = new URL(proxy.tokenRequests[0]!, 'http://x');
      assert.equal(t.searchParams.get('service'), 'test-registry');
      assert.equal(t.searchParams.get('scope'), 'repository:test/multi:pull');
      assert.equal(t.searchParams.get('account'), 'alice');
    } finally {
      await proxy.close();
    }
  });

  test('garbage collection: layers and blobs of a removed image go, shared and pinned ones stay', async () => {
    const d = dataDir();
    await pullImage({ dataDir: d, name: 'single', reference: `${reg.host}/test/single:single` });
    await pullImage({ dataDir: d, name: 'multi', reference: `${reg.host}/test/multi:multi` });
    await pullImage({ dataDir: d, name: 'multi2', reference: `${reg.host}/test/multi:multi` });
    assert.deepEqual((await collectGarbage(d)).layers, []);
    rmSync(join(d, 'images', 'single'), { recursive: true });
    // A pull in progress has pinned the config blob of "single": it stays.
    const release = pins.pin([single.configDigest]);
    const r = await collectGarbage(d);
    release();
    assert.deepEqual(r.layers, [single.layerDigests[0]]);
    assert.deepEqual(r.blobs.sort(), [single.manifestDigest, single.layerDigests[0]!].sort());
    assert.ok(existsSync(join(d, 'blobs/sha256', hex(single.configDigest))));
    assert.ok(!existsSync(join(d, 'layers', `sha256-${hex(single.layerDigests[0]!)}`)));
    assert.ok(!existsSync(join(d, 'layers', `sha256-${hex(single.layerDigests[0]!)}.json`)));
    rmSync(join(d, 'images', 'multi'), { recursive: true });
    assert.deepEqual((await collectGarbage(d)).layers, [], 'multi2 still uses them');
    // A session's bundle keeps a layer of a deleted image mounted.
    const layer = join(d, 'layers', `sha256-${hex(multi.layerDigests[0]!)}`);
    rmSync(join(d, 'images', 'multi2'), { recursive: true });
    mkdirSync(join(d, 'sessions', 'u1'), { recursive: true });
    writeFileSync(join(d, 'sessions', 'u1', 'config.json'), JSON.stringify({ annotations: { 'sandkasten.dev/overlay.lowerdirs': layer } }));
    const r3 = await collectGarbage(d);
    assert.equal(r3.layers.length, 2);
    assert.ok(existsSync(layer));
    assert.deepEqual(readdirSync(join(d, 'layers')).filter((x) => !x.endsWith('.json')), [`sha256-${hex(multi.layerDigests[0]!)}`]);
    // An unreadable meta.json stops the sweep.
    mkdirSync(join(d, 'images', 'broken'));
    writeFileSync(join(d, 'images', 'broken', 'meta.json'), '{');
    await assert.rejects(collectGarbage(d), /garbage collection skipped: images\/broken\/meta\.json is unreadable/);
  });

  test('an HTTPS registry on loopback: reached over TLS (unverified, as docker does for loopback)', async () => {
    const tlsReg = await startRegistry({ tls: true });
    try {
      pushLayout(layout, 'single', tlsReg.host, 'secure/app');
      const r = await pullImage({ dataDir: dataDir(), name: 'secure', reference: `${tlsReg.host}/secure/app:single` });
      assert.equal(r.digest, single.manifestDigest);
    } finally {
      await tlsReg.stop();
    }
  });

  describe('Basic authentication (the registry\'s htpasswd)', { skip: htpasswdSkip }, () => {
    let authReg: TestRegistry;
    before(async () => {
      authReg = await startRegistry({ auth: { username: 'bob', password: 'hunter2' } });
      pushLayout(layout, 'single', authReg.host, 'private/app', { username: 'bob', password: 'hunter2' });
    });
    after(async () => authReg?.stop());

    test('without credentials: a clear refusal; with them: the image', async () => {
      const d = dataDir();
      await assert.rejects(
        pullImage({ dataDir: d, name: 'p', reference: `${authReg.host}/private/app:single` }),
        (e: unknown) => e instanceof PullError && e.reason === 'Unauthorized' && e.message === `registry ${authReg.host}: authentication required (Basic), and no credentials are configured for it`,
      );
      await assert.rejects(
        pullImage({ dataDir: d, name: 'p', reference: `${authReg.host}/private/app:single`, credentials: () => ({ username: 'bob', password: 'wrong' }) }),
        (e: unknown) => e instanceof PullError && e.reason === 'Unauthorized' && /access denied by 127\.0\.0\.1:\d+ \(401\)/.test(e.message),
      );
      const r = await pullImage({ dataDir: d, name: 'p', reference: `${authReg.host}/private/app:single`, credentials: () => ({ username: 'bob', password: 'hunter2' }) });
      assert.equal(r.digest, single.manifestDigest);
    });
  });
});

// ---- a registry front: bearer tokens, delays, cut connections, request log ----------------------

interface Proxy {
  host: string;
  requests: { url: string; range: string | undefined }[];
  tokenRequests: string[];
  maxConcurrentBlobs: number;
  cut: { digest: string; afterBytes: number } | undefined;
  close(): Promise<void>;
}

async function startProxy(upstream: string, o: { bearer?: { username: string; password: string }; delayBlobMs?: number }): Promise<Proxy> {
  const TOKEN = 'tok-0123456789';
  let active = 0;
  const p: Proxy = { host: '', requests: [], tokenRequests: [], maxConcurrentBlobs: 0, cut: undefined, close: async () => {} };
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    if (url.startsWith('/token')) {
      p.tokenRequests.push(url);
      const want = `Basic ${Buffer.from(`${o.bearer?.username}:${o.bearer?.password}`).toString('base64')}`;
      if (req.headers.authorization !== want) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: TOKEN, expires_in: 300 }));
      return;
    }
    if (o.bearer && req.headers.authorization !== `Bearer ${TOKEN}`) {
      const repo = /^\/v2\/(.+)\/(manifests|blobs)\//.exec(url)?.[1] ?? '';
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${p.host}/token",service="test-registry",scope="repository:${repo}:pull"`, 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    p.requests.push({ url, range: req.headers.range });
    const isBlob = url.includes('/blobs/');
    const forward = () => {
      const headers = { ...req.headers, host: upstream };
      delete headers.authorization;
      const up = http.request(`http://${upstream}${url}`, { method: req.method, headers }, (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        const cut = p.cut && url.includes(p.cut.digest.slice(7)) ? p.cut : undefined;
        if (cut) p.cut = undefined;
        let sent = 0;
        ur.on('data', (c: Buffer) => {
          if (cut && sent + c.length > cut.afterBytes) {
            res.write(c.subarray(0, cut.afterBytes - sent));
            sent = cut.afterBytes;
            // Flush what was written, then drop the connection mid-body.
            setTimeout(() => res.destroy(), 50);
            ur.destroy();
            return;
          }
          sent += c.length;
          res.write(c);
        });
        ur.on('end', () => res.end());
        ur.on('close', () => {
          if (isBlob) active--;
        });
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    };
    if (isBlob) {
      active++;
      p.maxConcurrentBlobs = Math.max(p.maxConcurrentBlobs, active);
      setTimeout(forward, o.delayBlobMs ?? 0);
    } else forward();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  p.host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  p.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return p;
}
