// The Image reconciler end to end: Images applied over HTTP, pulled from a real registry on a
// loopback port (docker-registry, filled with skopeo) or imported from a tarball, then real
// Sessions on them that must see exactly the right files.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Image } from '@sandkasten/api-schemas';
import { readImageMeta } from '../images/index.js';
import { busyboxEntries, makeTar, noise, pushLayout, registrySkip, startRegistry, testDir, writeOciLayout, type TestRegistry, type WrittenImage } from '../images/testutil.js';
import { RunnerClient } from '../runner/index.js';
import { sessionPaths } from '../sandbox/index.js';
import { API, sandboxSkip, sessionsUrl, startSandboxHarness, type SandboxHarness } from './session-testutil.js';

const IMAGES = `${API}/images`;
const isReady = (i: Image | undefined) => i?.status?.phase === 'Ready';

describe('Image reconciler', { skip: sandboxSkip || registrySkip, timeout: 300_000 }, () => {
  let h: SandboxHarness;
  let reg: TestRegistry;
  let dir: string;
  let multi: WrittenImage;
  let corrupt: WrittenImage;

  before(async () => {
    reg = await startRegistry();
    dir = testDir('sk-image-ctl-');
    const layout = join(dir, 'layout');
    writeOciLayout(layout, 'v1', {
      layers: [makeTar([...busyboxEntries(), { path: 'data/' }, { path: 'data/hello', content: 'hello\n' }, { path: 'data/owned', content: 'x', mode: 0o640, uid: 1000, gid: 1000 }])],
      config: { Env: ['PATH=/bin', 'GREETING=hi'], WorkingDir: '/data' },
    });
    pushLayout(layout, 'v1', reg.host, 'test/single');
    multi = writeOciLayout(layout, 'multi', {
      layers: [
        makeTar([...busyboxEntries(), { path: 'data/' }, { path: 'data/keep', content: 'k' }, { path: 'data/gone', content: 'g' }, { path: 'data/dir/' }, { path: 'data/dir/old', content: 'o' }]),
        makeTar([{ path: 'data/' }, { path: 'data/.wh.gone' }, { path: 'data/dir/' }, { path: 'data/dir/.wh..wh..opq' }, { path: 'data/dir/new', content: 'n' }]),
        makeTar([{ path: 'data/added', content: 'a' }]),
      ],
      // Not root: the layers (under a 0700 directory) are readable through the overlay all the same.
      config: { Env: ['PATH=/bin'], User: 'sandbox' },
    }).images[0]!;
    pushLayout(layout, 'multi', reg.host, 'test/multi');
    writeOciLayout(layout, 'ma', [
      { architecture: 'amd64', layers: [makeTar([...busyboxEntries(), { path: 'arch', content: 'amd64' }])] },
      { architecture: 'arm64', layers: [makeTar([...busyboxEntries(), { path: 'arch', content: 'arm64' }])] },
    ]);
    pushLayout(layout, 'ma', reg.host, 'test/multiarch');
    corrupt = writeOciLayout(layout, 'bad', { layers: [makeTar([...busyboxEntries(), { path: 'junk', content: noise(100_000) }])] }).images[0]!;
    pushLayout(layout, 'bad', reg.host, 'test/corrupt');
    const f = reg.blobFile(corrupt.layerDigests[0]!);
    const b = readFileSync(f);
    b[1000]! ^= 0x55;
    writeFileSync(f, b);
    h = await startSandboxHarness((c) => {
      c.allowed_images = ['base', 'single', 'multi', 'ma', 'tarimg', 'bad', 'nope', 'badsrc'];
    });
  });
  after(async () => {
    await h?.close();
    await reg?.stop();
    if (dir) (await import('node:fs')).rmSync(dir, { recursive: true, force: true });
  });

  const apply = async (name: string, source: string, annotations?: Record<string, string>) => {
    const r = await h.req('POST', IMAGES, { apiVersion: 'sandkasten.dev/v1', kind: 'Image', metadata: { name, ...(annotations && { annotations }) }, spec: { source } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  };
  const getImage = async (name: string) => {
    const r = await h.req('GET', `${IMAGES}/${name}`);
    return r.status === 200 ? (r.body as Image) : undefined;
  };
  const waitImage = async (name: string, pred: (i: Image | undefined) => boolean, what: string, ms = 60_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const i = await getImage(name);
      if (pred(i)) return i;
      if (Date.now() > end) throw new Error(`image ${name}: timed out waiting for ${what}; last: ${JSON.stringify(i?.status)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  /** A Session on the image; returns the output of `cmd` in it. */
  const runIn = async (session: string, image: string, cmd: string) => {
    const created = await h.create(session, { image });
    await h.waitSession(session, (s) => s.status?.phase === 'Ready', 'Ready', 30_000);
    const c = new RunnerClient(sessionPaths(h.dataDir, created.metadata.uid!).socket);
    try {
      const r = await c.exec(cmd);
      return r.output.toString();
    } finally {
      c.close();
    }
  };
  const removeSession = async (name: string) => {
    const r = await h.req('DELETE', `${sessionsUrl()}/${name}`);
    if (r.status !== 404) await h.waitGone(name, 30_000);
  };
  const FIND = 'busybox find /data | busybox sort; busybox stat -c "%n %a %u:%g" /data/* 2>/dev/null';

  test('the built-in image on the host is adopted as an Image', async () => {
    const base = await waitImage('base', isReady, 'Ready');
    assert.equal(base!.spec.source, 'builtin://host');
    assert.equal(base!.status?.layerCount, 1);
    assert.deepEqual(base!.metadata.finalizers, ['sandkasten.dev/image']);
  });

  test('oci:// single layer: Pulling → Ready with digest, size, config, progress; a session sees exactly its files and its env', async () => {
    await apply('single', `oci://${reg.host}/test/single:v1`);
    const img = (await waitImage('single', isReady, 'Ready'))!;
    assert.match(img.status!.digest!, /^sha256:[0-9a-f]{64}$/);
    assert.equal(img.status!.layerCount, 1);
    assert.equal(img.status!.sizeBytes, readFileSync('/bin/busybox').length + 6 + 1 + 'root:x:0:0:root:/root:/bin/sh\nsandbox:x:1000:1000:sandbox:/home/sandbox:/bin/sh\n'.length + 'root:x:0:\nsandbox:x:1000:\n'.length);
    assert.deepEqual(img.status!.config, { env: ['PATH=/bin', 'GREETING=hi'], workingDir: '/data' });
    assert.equal(img.status!.progress?.summary, '100% (1/1 layers)');
    assert.equal(img.status!.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    const reasons = (await h.events('single')).map((e) => e.reason);
    assert.deepEqual(reasons.filter((r) => r === 'Pulling' || r === 'Pulled').sort(), ['Pulled', 'Pulling']);
    const out = await runIn('on-single', 'single', `${FIND}; echo "$GREETING from $(pwd)"; busybox cat /data/hello`);
    assert.equal(out, '/data\n/data/hello\n/data/owned\n/data/hello 644 0:0\n/data/owned 640 1000:1000\nhi from /data\nhello\n');
    await removeSession('on-single');
  });

  test('oci:// three layers: a whiteout hides a file, an opaque directory hides the lower one', async () => {
    await apply('multi', `oci://${reg.host}/test/multi:multi`);
    const img = (await waitImage('multi', isReady, 'Ready'))!;
    assert.equal(img.status!.layerCount, 3);
    assert.deepEqual(readImageMeta(h.dataDir, 'multi')!.layers, [...multi.layerDigests].reverse().map((d) => `layers/sha256-${d.slice(7)}`));
    const out = await runIn('on-multi', 'multi', 'busybox find /data | busybox sort; busybox cat /data/dir/new /data/keep /data/added; echo; busybox id -u');
    assert.equal(out, '/data\n/data/added\n/data/dir\n/data/dir/new\n/data/keep\nnka\n1000\n');
    await removeSession('on-multi');
  });

  test('oci:// multi-platform index: the host platform is pulled', async () => {
    await apply('ma', `oci://${reg.host}/test/multiarch:ma`);
    await waitImage('ma', isReady, 'Ready');
    assert.equal(await runIn('on-ma', 'ma', 'busybox cat /arch'), 'amd64');
    await removeSession('on-ma');
  });

  test('tar:// import: a rootfs tarball (gzip) becomes a one-layer image', async () => {
    const tarball = join(dir, 'rootfs.tar.gz');
    writeFileSync(tarball, gzipSync(makeTar([...busyboxEntries(), { path: 'data/' }, { path: 'data/from-tar', content: 'T' }])));
    await apply('tarimg', `tar://${tarball}`);
    const img = (await waitImage('tarimg', isReady, 'Ready'))!;
    assert.equal(img.status!.layerCount, 1);
    assert.equal(await runIn('on-tar', 'tarimg', 'busybox cat /data/from-tar; echo; echo $PATH'), 'T\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n');
    await removeSession('on-tar');
  });

  test('deleting an image a session uses waits (Terminating, naming the session); then its files and layers go', async () => {
    const layer = join(h.dataDir, readImageMeta(h.dataDir, 'single')!.layers[0]!);
    await h.create('user1', { image: 'single' });
    await h.waitSession('user1', (s) => s.status?.phase === 'Ready', 'Ready', 30_000);
    // 202: accepted, the finalizer holds it.
    assert.equal((await h.req('DELETE', `${IMAGES}/single`)).status, 202);
    const t = (await waitImage('single', (i) => i?.status?.phase === 'Terminating', 'Terminating'))!;
    assert.equal(t.status!.reason, 'InUse');
    assert.equal(t.status!.message, 'in use by session default/user1; deletion waits until it is gone');
    assert.ok(readImageMeta(h.dataDir, 'single'));
    assert.ok((await h.events('single')).some((e) => e.reason === 'WaitingForSessions'));
    await removeSession('user1');
    await waitImage('single', (i) => i === undefined, 'gone', 30_000);
    assert.ok(!existsSync(join(h.dataDir, 'images', 'single')));
    assert.ok(!existsSync(layer), 'its layer was garbage-collected');
    // The layers other images use stay.
    for (const l of readImageMeta(h.dataDir, 'multi')!.layers) assert.ok(existsSync(join(h.dataDir, l)), l);
  });

  test('a corrupted blob: Failed with the digest mismatch, an Event, nothing half-installed; not allowed, bad sources, unknown images', async () => {
    await apply('bad', `oci://${reg.host}/test/corrupt:bad`);
    const bad = (await waitImage('bad', (i) => i?.status?.phase === 'Failed', 'Failed'))!;
    assert.equal(bad.status!.reason, 'DigestMismatch');
    assert.match(bad.status!.message!, new RegExp(`^blob ${corrupt.layerDigests[0]}: digest mismatch: the downloaded content has digest sha256:[0-9a-f]{64}; nothing of it was kept; trying again in \\d+ s$`));
    assert.ok((await h.events('bad')).some((e) => e.type === 'Warning' && e.reason === 'Failed' && /digest mismatch/.test(e.message ?? '')));
    assert.equal(readImageMeta(h.dataDir, 'bad'), undefined);
    const hex = corrupt.layerDigests[0]!.slice(7);
    assert.deepEqual(readdirSync(join(h.dataDir, 'layers')).filter((n) => n.includes(hex.slice(0, 16)) || n.startsWith('.tmp-')), []);
    assert.ok(!existsSync(join(h.dataDir, 'blobs/partial', hex)));

    await apply('forbidden', 'builtin://host');
    const f = (await waitImage('forbidden', (i) => i?.status?.phase === 'Failed', 'Failed'))!;
    assert.equal(f.status!.reason, 'NotAllowed');
    assert.match(f.status!.message!, /^image "forbidden" is not allowed on this daemon \(allowed_images: base, single, /);
    assert.ok(!existsSync(join(h.dataDir, 'images', 'forbidden')));

    await apply('badsrc', 'oci://Not A Ref');
    const s = (await waitImage('badsrc', (i) => i?.status?.phase === 'Failed', 'Failed'))!;
    assert.equal(s.status!.reason, 'InvalidSource');
    assert.match(s.status!.message!, /invalid image reference "Not A Ref": contains white space/);

    await apply('nope', `oci://${reg.host}/test/nope:1`);
    const n = (await waitImage('nope', (i) => i?.status?.phase === 'Failed', 'Failed'))!;
    assert.equal(n.status!.reason, 'NotFound');
    assert.doesNotMatch(n.status!.message!, /trying again/);
    for (const x of ['bad', 'forbidden', 'badsrc', 'nope']) await h.req('DELETE', `${IMAGES}/${x}`);
    for (const x of ['bad', 'forbidden', 'badsrc', 'nope']) await waitImage(x, (i) => i === undefined, 'gone');
  });

  test('a pull request (annotation) pulls again; a new source replaces the content', async () => {
    const before = readImageMeta(h.dataDir, 'ma')!;
    const r = await h.req('PATCH', `${IMAGES}/ma`, { metadata: { annotations: { 'sandkasten.dev/pull-requested': 'now' } } }, 'application/merge-patch+json');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await waitImage('ma', () => readImageMeta(h.dataDir, 'ma')?.pullRequest === 'now', 'pulled again');
    await waitImage('ma', isReady, 'Ready');
    assert.deepEqual(readImageMeta(h.dataDir, 'ma')!.layers, before.layers);
    const p = await h.req('PATCH', `${IMAGES}/ma`, { spec: { source: `oci://${reg.host}/test/multi:multi` } }, 'application/merge-patch+json');
    assert.equal(p.status, 200);
    await waitImage('ma', (i) => isReady(i) && i!.status!.layerCount === 3, 'Ready with the new content');
    assert.equal(readImageMeta(h.dataDir, 'ma')!.source, `oci://${reg.host}/test/multi:multi`);
    // The old content's only layer is no longer used by anything: collected.
    assert.ok(!existsSync(join(h.dataDir, before.layers[0]!)));
  });

  test('pullPolicy Always: a spec change pulls again, IfNotPresent only records it', async () => {
    const first = readImageMeta(h.dataDir, 'multi')!.updatedAt;
    let p = await h.req('PATCH', `${IMAGES}/multi`, { spec: { pullPolicy: 'Always' } }, 'application/merge-patch+json');
    assert.equal(p.status, 200);
    assert.equal(p.body.metadata.generation, 2);
    await waitImage('multi', (i) => isReady(i) && i!.status!.observedGeneration === 2, 'Ready at generation 2');
    assert.notEqual(readImageMeta(h.dataDir, 'multi')!.updatedAt, first);
    const second = readImageMeta(h.dataDir, 'multi')!.updatedAt;
    p = await h.req('PATCH', `${IMAGES}/multi`, { spec: { pullPolicy: 'IfNotPresent' } }, 'application/merge-patch+json');
    await waitImage('multi', (i) => isReady(i) && i!.status!.observedGeneration === 3, 'Ready at generation 3');
    assert.equal(readImageMeta(h.dataDir, 'multi')!.updatedAt, second);
  });
});
