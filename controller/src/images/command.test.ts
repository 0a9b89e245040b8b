// `sandkasten image …` without a daemon (work done in-process on data_dir) and with the real
// daemon running (the commands become Image objects), against a loopback registry.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { startDaemon, type Daemon } from '../bin/testutil.js';
import { imageCommand, type Out } from './command.js';
import { readImageMeta } from './meta.js';
import { busyboxEntries, freePort, makeTar, pushLayout, registrySkip, startRegistry, testDir, writeOciLayout, type TestRegistry } from './testutil.js';

const isRoot = process.getuid?.() === 0;

function capture(): Out & { out: string; err: string } {
  const o = { out: '', err: '', stdout: (s: string) => void (o.out += s), stderr: (s: string) => void (o.err += s) };
  return o;
}

describe('sandkasten image', { skip: registrySkip || (!isRoot && 'needs root'), timeout: 180_000 }, () => {
  let reg: TestRegistry;
  let dir: string;
  let tarball: string;
  before(async () => {
    reg = await startRegistry();
    dir = testDir('sk-image-cmd-');
    const layout = join(dir, 'layout');
    writeOciLayout(layout, 'v1', { layers: [makeTar([...busyboxEntries(), { path: 'etc/motd', content: 'cli' }])], config: { User: 'sandbox' } });
    pushLayout(layout, 'v1', reg.host, 'cli/app');
    tarball = join(dir, 'rootfs.tgz');
    writeFileSync(tarball, gzipSync(makeTar(busyboxEntries())));
  });
  after(async () => {
    await reg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('without a daemon: pull, import, list, validate, delete on data_dir', async () => {
    const dataDir = join(dir, 'direct');
    const config = join(dir, 'direct.yaml');
    // Nothing listens at this port: the commands work on data_dir themselves.
    writeFileSync(config, `listen: "127.0.0.1:${await freePort()}"\ndata_dir: "${dataDir}"\nallowed_images: ["app", "rootfs", "other"]\n`);
    let o = capture();
    assert.equal(await imageCommand(['pull', '--name', 'app', `${reg.host}/cli/app:v1`], config, o), 0, o.err);
    assert.match(o.out, new RegExp(`^app: pulled ${reg.host}/cli/app:v1 \\(sha256:[0-9a-f]{64}\\), 1 layers, `));
    assert.match(o.err, /pulling .*: 100% \(1\/1 layers\)/);
    assert.equal(readImageMeta(dataDir, 'app')?.config.user, 'sandbox');

    o = capture();
    assert.equal(await imageCommand(['import', '--name', 'rootfs', '--tar', tarball], config, o), 0, o.err);
    assert.match(o.out, /^rootfs: imported .*rootfs\.tgz \(sha256:[0-9a-f]{64}\)/);

    o = capture();
    assert.equal(await imageCommand(['list'], config, o), 0);
    const lines = o.out.trimEnd().split('\n');
    assert.match(lines[0]!, /^NAME\s+PHASE\s+SOURCE\s+SIZE\s+LAYERS\s+DIGEST$/);
    assert.match(lines[1]!, new RegExp(`^app\\s+Ready\\s+oci://${reg.host}/cli/app:v1\\s+\\S+\\s+1\\s+sha256:`));
    assert.match(lines[2]!, /^rootfs\s+Ready\s+tar:\/\//);

    o = capture();
    assert.equal(await imageCommand(['validate', 'app'], config, o), 0, o.err);
    assert.match(o.out, /^image app: ok \(1 layers, .*\/bin\/sh → .*\/bin\/busybox\)/);
    // A broken image: its layer gone.
    const layer = join(dataDir, readImageMeta(dataDir, 'rootfs')!.layers[0]!);
    rmSync(layer, { recursive: true });
    o = capture();
    assert.equal(await imageCommand(['validate', 'rootfs'], config, o), 1);
    assert.match(o.err, /image rootfs: invalid\n {2}- layer .* is missing/);

    o = capture();
    assert.equal(await imageCommand(['pull', '--name', 'nope', `${reg.host}/cli/app:v1`], config, o), 1);
    assert.match(o.err, /image "nope" is not allowed on this daemon \(allowed_images: app, rootfs, other\)/);
    o = capture();
    assert.equal(await imageCommand(['pull', '--name', 'other', `${reg.host}/cli/absent:v1`], config, o), 1);
    assert.match(o.err, /manifest cli\/absent:v1 not found/);

    // A session's bundle using the image's layer refuses the deletion.
    const appLayer = join(dataDir, readImageMeta(dataDir, 'app')!.layers[0]!);
    mkdirSync(join(dataDir, 'sessions', 'uid-1'), { recursive: true });
    writeFileSync(join(dataDir, 'sessions', 'uid-1', 'config.json'), JSON.stringify({ annotations: { 'sandkasten.dev/overlay.lowerdirs': appLayer } }));
    o = capture();
    assert.equal(await imageCommand(['delete', 'app'], config, o), 1);
    assert.match(o.err, /image app is in use by the sandboxes of sessions uid-1/);
    rmSync(join(dataDir, 'sessions', 'uid-1'), { recursive: true });
    o = capture();
    assert.equal(await imageCommand(['delete', 'app'], config, o), 0, o.err);
    assert.match(o.out, /^image app deleted; removed 1 unused layers/);
    assert.ok(!existsSync(appLayer));
    assert.ok(!existsSync(join(dataDir, 'images', 'app')));

    o = capture();
    assert.equal(await imageCommand(['pull', '--name', 'other', 'Bad Ref'], config, o), 2);
    assert.equal(o.err, 'sandkasten image pull: invalid image reference "Bad Ref": contains white space\n');
    o = capture();
    assert.equal(await imageCommand(['frobnicate'], config, o), 2);
    assert.match(o.err, /unknown command "frobnicate"/);
  });

  test('with the daemon running: the commands are Image objects', async () => {
    const ddir = testDir('sk-image-cmd-daemon-');
    const port = await freePort();
    let d: Daemon | undefined;
    try {
      d = await startDaemon({ dir: ddir, config: `listen: "127.0.0.1:${port}"\napi_key: "k"\ndata_dir: "${join(ddir, 'data')}"\n` });
      let o = capture();
      assert.equal(await imageCommand(['pull', '--name', 'app', `${reg.host}/cli/app:v1`], d.configPath, o), 0, o.err);
      assert.match(o.out, /^app: Ready, 1 layers, .*, sha256:[0-9a-f]{64}\n$/);
      const r = await fetch(`${d.url}/apis/sandkasten.dev/v1/images/app`, { headers: { authorization: 'Bearer k' } });
      const img = (await r.json()) as { spec: { source: string }; metadata: { annotations: Record<string, string> } };
      assert.equal(img.spec.source, `oci://${reg.host}/cli/app:v1`);
      assert.ok(img.metadata.annotations['sandkasten.dev/pull-requested']);

      // Pulling again is a new request, answered again.
      o = capture();
      assert.equal(await imageCommand(['pull', '--name', 'app', `${reg.host}/cli/app:v1`], d.configPath, o), 0, o.err);

      o = capture();
      assert.equal(await imageCommand(['import', '--name', 'rootfs', '--tar', tarball], d.configPath, o), 0, o.err);
      o = capture();
      assert.equal(await imageCommand(['list'], d.configPath, o), 0);
      assert.match(o.out, /\napp\s+Ready\s+oci:\/\//);
      assert.match(o.out, /\nbase\s+Ready\s+builtin:\/\/host/);
      assert.match(o.out, /\nrootfs\s+Ready\s+tar:\/\//);
      o = capture();
      assert.equal(await imageCommand(['validate', 'app'], d.configPath, o), 0, o.err);

      o = capture();
      assert.equal(await imageCommand(['pull', '--name', 'app', '--creds', 'a:b', `${reg.host}/cli/app:v1`], d.configPath, o), 2);
      assert.match(o.err, /--creds works without the daemon only/);

      o = capture();
      assert.equal(await imageCommand(['delete', 'app'], d.configPath, o), 0, o.err);
      assert.equal(o.out, 'image app deleted\n');
      assert.ok(!existsSync(join(ddir, 'data', 'images', 'app')));
      assert.deepEqual(readdirSync(join(ddir, 'data', 'layers')).filter((n) => !n.endsWith('.json')).length, 1, 'only the rootfs layer is left');

      // A wrong api_key is reported, not mistaken for "no daemon".
      writeFileSync(join(ddir, 'bad.yaml'), `listen: "127.0.0.1:${port}"\napi_key: "wrong"\ndata_dir: "${join(ddir, 'data')}"\n`);
      o = capture();
      assert.equal(await imageCommand(['list'], join(ddir, 'bad.yaml'), o), 1);
      assert.match(o.err, /refused the config's api_key \(401\)/);
    } finally {
      await d?.stop();
      rmSync(ddir, { recursive: true, force: true });
    }
  });
});
