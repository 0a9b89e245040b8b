import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUNDLED_NODE_AGENT, BUNDLED_RUNNER } from '../config/index.js';
import { HOST_ELF_MACHINE, kernelVersion, mountOf, nearestExisting, nodeAgentCheck, parseMountinfo, readElf } from './host.js';

const MOUNTINFO = [
  '22 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
  '30 22 0:25 / /tmp rw,nosuid,nodev - tmpfs tmpfs rw,size=100k',
  '31 22 0:26 / /var/lib/my\\040data rw,noexec - xfs /dev/vdb rw',
  '32 31 0:27 / /var/lib/my\\040data/sub ro - btrfs /dev/vdc rw,space_cache',
  'garbage line',
  '',
].join('\n');

describe('mount table', () => {
  const mounts = parseMountinfo(MOUNTINFO);
  it('parses entries, unescaping \\040 and skipping malformed lines', () => {
    assert.equal(mounts.length, 4);
    assert.deepEqual(mounts[2], { mountPoint: '/var/lib/my data', options: ['rw', 'noexec'], fsType: 'xfs', source: '/dev/vdb', superOptions: ['rw'] });
  });
  it('finds the mount of a path by the longest prefix, not a string prefix', () => {
    assert.equal(mountOf('/var/lib/my data/sub/x', mounts)?.fsType, 'btrfs');
    assert.equal(mountOf('/var/lib/my data', mounts)?.fsType, 'xfs');
    assert.equal(mountOf('/var/lib/my datax', mounts)?.fsType, 'ext4');
    assert.equal(mountOf('/tmp', mounts)?.fsType, 'tmpfs');
    assert.equal(mountOf('/etc', mounts)?.fsType, 'ext4');
  });
  it('finds the nearest existing ancestor', () => {
    const have = new Set(['/', '/var', '/var/lib']);
    assert.equal(nearestExisting('/var/lib/sandkasten/x', (p) => have.has(p)), '/var/lib');
    assert.equal(nearestExisting('/nope', (p) => have.has(p)), '/');
  });
});

describe('kernelVersion', () => {
  it('reads major.minor', () => {
    assert.deepEqual(kernelVersion('6.1.0-18-amd64'), [6, 1]);
    assert.deepEqual(kernelVersion('5.15.153.1-microsoft-standard-WSL2'), [5, 15]);
    assert.equal(kernelVersion('unknown'), undefined);
  });
});

describe('readElf', () => {
  it('tells a static binary (the runner) from a dynamic one (node) and an ELF from a script', () => {
    const runner = readElf(BUNDLED_RUNNER);
    assert.ok(typeof runner === 'object', String(runner));
    assert.equal(runner.dynamic, false);
    assert.equal(runner.machine, HOST_ELF_MACHINE);
    const node = readElf(process.execPath);
    assert.ok(typeof node === 'object' && node.dynamic, 'node is dynamically linked');
    const dir = mkdtempSync(join(tmpdir(), 'sk-elf-'));
    try {
      writeFileSync(join(dir, 'script'), '#!/bin/sh\necho hi\n');
      assert.equal(readElf(join(dir, 'script')), 'not an ELF executable');
      writeFileSync(join(dir, 'short'), '\x7fELF');
      assert.equal(readElf(join(dir, 'short')), 'not an ELF executable');
      writeFileSync(join(dir, 'cut'), readFileSync(BUNDLED_RUNNER).subarray(0, 64));
      assert.match(String(readElf(join(dir, 'cut'))), /truncated|malformed/);
      assert.match(String(readElf(join(dir, 'missing'))), /ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('nodeAgentCheck', () => {
  it('parses `node-agent check` of the built binary', () => {
    const f = nodeAgentCheck(BUNDLED_NODE_AGENT);
    assert.ok(typeof f === 'object', String(f));
    assert.match(f.kernel, /^\d+\.\d+/);
    assert.ok(['v1', 'v2', 'unknown'].includes(f.cgroup.mode));
  });
  it('says why when the program is missing or prints something else', () => {
    assert.match(String(nodeAgentCheck('/nonexistent/node-agent')), /ENOENT/);
    assert.match(String(nodeAgentCheck('/bin/false')), /exited 1/);
    assert.match(String(nodeAgentCheck('/bin/echo')), /printed no JSON/);
  });
});
