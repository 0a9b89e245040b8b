import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentialsFromAuthFile, parseChallenges } from './auth.js';
import { layerCompression, MEDIA, parseImageConfig, parseManifest, selectPlatform, type ImageIndex } from './manifest.js';

const D = (c: string) => `sha256:${c.repeat(64)}`;

test('WWW-Authenticate: bearer with quoted params, commas inside quotes, several challenges', () => {
  assert.deepEqual(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/python:pull"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/python:pull' } },
  ]);
  assert.deepEqual(parseChallenges('Basic realm="a, \\"quoted\\" realm", Bearer realm=https://x/t, service=s'), [
    { scheme: 'basic', params: { realm: 'a, "quoted" realm' } },
    { scheme: 'bearer', params: { realm: 'https://x/t', service: 's' } },
  ]);
  assert.deepEqual(parseChallenges('Basic'), [{ scheme: 'basic', params: {} }]);
  assert.deepEqual(parseChallenges(''), []);
});

test('credentials from Docker and podman auth files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sk-auth-'));
  try {
    const f = join(dir, 'config.json');
    writeFileSync(f, JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: Buffer.from('hub:pw:with:colons').toString('base64') }, 'reg.example:5000': { username: 'u', password: 'p' } } }));
    assert.deepEqual(credentialsFromAuthFile('docker.io', [join(dir, 'absent.json'), f]), { username: 'hub', password: 'pw:with:colons' });
    assert.deepEqual(credentialsFromAuthFile('reg.example:5000', [f]), { username: 'u', password: 'p' });
    assert.equal(credentialsFromAuthFile('other.io', [f]), undefined);
    writeFileSync(f, '{');
    assert.throws(() => credentialsFromAuthFile('docker.io', [f]), /registry auth file .*config\.json: invalid JSON/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('manifests: OCI, Docker schema 2, indexes; schema 1 and unknown types refused by name', () => {
  const m = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.dockerManifest, config: { mediaType: MEDIA.dockerConfig, digest: D('a'), size: 1 }, layers: [{ mediaType: MEDIA.dockerLayerGzip, digest: D('b'), size: 2 }] })), undefined);
  assert.equal(m.kind, 'manifest');
  // No mediaType in the body: the fields tell.
  assert.equal(parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] })), 'application/json').kind, 'index');
  assert.equal(parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] })), MEDIA.dockerList).kind, 'index');
  assert.throws(() => parseManifest(Buffer.from('{"schemaVersion":1,"fsLayers":[]}'), MEDIA.dockerSchema1Signed), /unsupported manifest media type application\/vnd\.docker\.distribution\.manifest\.v1\+prettyjws/);
  assert.throws(() => parseManifest(Buffer.from('{"mediaType":"application/x-thing"}'), undefined), /unsupported manifest media type "application\/x-thing"/);
  assert.throws(() => parseManifest(Buffer.from('nope'), undefined), /not valid JSON/);
  assert.throws(
    () => parseManifest(Buffer.from(JSON.stringify({ mediaType: MEDIA.ociManifest, config: { mediaType: 'x', digest: 'sha512:ab', size: 1 }, layers: [] })), undefined),
    /config\.digest: "sha512:ab" is not a sha256 digest/,
  );
  assert.equal(layerCompression(MEDIA.ociLayerGzip), 'gzip');
  assert.equal(layerCompression(MEDIA.ociLayer), 'none');
  assert.equal(layerCompression(MEDIA.ociLayerZstd), undefined);
});

test('platform selection: exact match, arm64 v8 equals no variant, arm falls back to a lower variant, attestations never', () => {
  const e = (architecture: string, variant?: string, os = 'linux') => ({ mediaType: MEDIA.ociManifest, digest: D(String(architecture.length % 10)), size: 1, platform: { os, architecture, ...(variant && { variant }) } });
  const idx: ImageIndex = { mediaType: MEDIA.ociIndex, manifests: [e('unknown', undefined, 'unknown'), e('amd64'), e('arm64'), e('arm', 'v6'), e('arm', 'v7')] };
  assert.equal(selectPlatform(idx, { os: 'linux', architecture: 'amd64' }).platform?.architecture, 'amd64');
  assert.equal(selectPlatform(idx, { os: 'linux', architecture: 'arm64', variant: 'v8' }).platform?.architecture, 'arm64');
  assert.equal(selectPlatform({ ...idx, manifests: [e('arm', 'v6')] }, { os: 'linux', architecture: 'arm', variant: 'v7' }).platform?.variant, 'v6');
  assert.equal(selectPlatform(idx, { os: 'linux', architecture: 'arm', variant: 'v7' }).platform?.variant, 'v7');
  assert.throws(() => selectPlatform(idx, { os: 'linux', architecture: 'riscv64' }), /no image for this host's platform linux\/riscv64 in the index \(it offers: linux\/amd64, linux\/arm64, linux\/arm\/v6, linux\/arm\/v7\)/);
  assert.throws(() => selectPlatform({ ...idx, manifests: [e('arm', 'v7')] }, { os: 'linux', architecture: 'arm', variant: 'v6' }), /no image/);
});

test('image configs: platform checked, field types checked', () => {
  const c = parseImageConfig(Buffer.from(JSON.stringify({ os: 'linux', architecture: 'amd64', config: { Env: ['A=1'], User: '1000' } })), { os: 'linux', architecture: 'amd64' });
  assert.equal(c.config?.User, '1000');
  assert.throws(() => parseImageConfig(Buffer.from(JSON.stringify({ os: 'windows', architecture: 'amd64' })), { os: 'linux', architecture: 'amd64' }), /the image is for windows\/amd64, this host runs linux\/amd64/);
  assert.throws(() => parseImageConfig(Buffer.from(JSON.stringify({ config: { Env: 'A=1' } })), { os: 'linux', architecture: 'amd64' }), /config\.Env must be a list of strings/);
  assert.throws(() => parseImageConfig(Buffer.from(JSON.stringify({ rootfs: { diff_ids: ['x'] } })), { os: 'linux', architecture: 'amd64' }), /rootfs\.diff_ids/);
});
