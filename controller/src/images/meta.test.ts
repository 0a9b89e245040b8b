import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageMetaError, imageDir, layerPaths, parseImageMeta, readImageMeta, writeImageMeta, type ImageMeta } from './meta.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const dataDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'sk-meta-'));
  dirs.push(d);
  return d;
};

const good = (): ImageMeta => ({
  schemaVersion: 1,
  name: 'python',
  source: 'oci://docker.io/library/python:3.12-slim',
  digest: `sha256:${'a'.repeat(64)}`,
  layers: ['layers/sha256-bbb', 'layers/sha256-aaa'],
  mounts: [],
  config: { env: ['PATH=/usr/bin'], workingDir: '/workspace', user: 'root' },
});

describe('image meta.json', () => {
  it('round-trips through the file, atomically (no temp file left behind)', () => {
    const d = dataDir();
    assert.equal(readImageMeta(d, 'python'), undefined);
    writeImageMeta(d, good());
    assert.deepEqual(readImageMeta(d, 'python'), good());
    assert.deepEqual(readdirSync(imageDir(d, 'python')), ['meta.json']);
  });

  it('resolves layers inside data_dir, top first', () => {
    assert.deepEqual(layerPaths('/var/lib/sk', good()), ['/var/lib/sk/layers/sha256-bbb', '/var/lib/sk/layers/sha256-aaa']);
    assert.throws(() => layerPaths('/var/lib/s:k', good()), /overlayfs cannot use a path containing ":"/);
    assert.throws(() => layerPaths('/var/lib/s,k', good()), /containing ","/);
  });

  it('rejects a malformed file naming the field', () => {
    const cases: [unknown, RegExp][] = [
      [[], /\(root\): must be an object/],
      [{ ...good(), schemaVersion: 2 }, /schemaVersion: unsupported 2/],
      [{ ...good(), name: '' }, /name: must be a non-empty string/],
      [{ ...good(), digest: 'md5:x' }, /digest: must be sha256/],
      [{ ...good(), layers: [] }, /layers: must be a non-empty list/],
      [{ ...good(), layers: ['/etc'] }, /layers\[0\]: "\/etc" must be a normalized path relative to data_dir/],
      [{ ...good(), layers: ['layers/../../etc'] }, /layers\[0\]/],
      [{ ...good(), layers: ['../x'] }, /layers\[0\]/],
      [{ ...good(), mounts: [{ destination: 'usr', source: '/usr', options: ['ro'] }] }, /mounts\[0\]\.destination: must be an absolute path/],
      [{ ...good(), mounts: [{ destination: '/usr', source: '/usr', options: ['rbind'] }] }, /mounts\[0\]\.options: must be a list of strings including "ro"/],
      [{ ...good(), config: { env: 'PATH=/bin' } }, /config\.env/],
    ];
    for (const [v, re] of cases) assert.throws(() => parseImageMeta(v, 'm.json'), (e: Error) => e instanceof ImageMetaError && re.test(e.message), String(re));
  });

  it('reports a corrupt file and a bad image name as ImageMetaError', () => {
    const d = dataDir();
    mkdirSync(join(d, 'images/broken'), { recursive: true });
    writeFileSync(join(d, 'images/broken/meta.json'), '{"schemaVersion":');
    assert.throws(() => readImageMeta(d, 'broken'), /meta\.json: invalid JSON/);
    assert.throws(() => readImageMeta(d, '../etc'), /invalid image name/);
    assert.throws(() => writeImageMeta(d, { ...good(), layers: ['/abs'] }), ImageMetaError);
  });
});
