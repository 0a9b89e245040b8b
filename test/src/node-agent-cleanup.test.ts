// node-agent leaves nothing behind: after many create/start/delete cycles the host's mount
// table, the cgroup tree and the process list are as they were.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import {
  buildNodeAgent, cleanupStateRoot, hostMounts, isRoot, listCgroupTree, makeBundle, makeRootfs, nodeAgentOk, processesWith,
  removeCgroupTree, testStateRoot, uniqueId, waitFor, type Bundle,
} from './lib/bundle.js';

const skip = isRoot ? false : 'needs root';
const cgroupParent = uniqueId('sandkasten-test');
let rootfs = '';
let bundle: Bundle | undefined;

before(() => {
  if (!isRoot) return;
  buildNodeAgent();
  rootfs = makeRootfs();
});

after(() => {
  if (!isRoot) return;
  cleanupStateRoot();
  bundle?.cleanup();
  rmSync(rootfs, { recursive: true, force: true });
  removeCgroupTree(cgroupParent);
});

test('100 create/start/delete cycles leave no mount, cgroup, process or state behind', { skip }, async () => {
  const marker = uniqueId('cycle-marker');
  // A process tree, so delete has more than the init to kill; an overlay root, so there is a mount to lose.
  bundle = makeBundle({ rootfs, overlay: true, args: ['/bin/sh', '-c', `sleep 100 & sleep 100 & wait; : ${marker}`] });
  const mountsBefore = hostMounts();
  assert.deepEqual(listCgroupTree(cgroupParent), []);
  assert.deepEqual(processesWith(marker), []);
  for (let i = 0; i < 100; i++) {
    const id = `${marker}-${i}`;
    bundle.config.linux.cgroupsPath = `/${cgroupParent}/${id}`;
    bundle.write();
    nodeAgentOk(['create', '--bundle', bundle.dir, id]);
    // Every third one is deleted while merely created (no --force needed), the rest while running.
    if (i % 3 === 0) {
      nodeAgentOk(['delete', id]);
    } else {
      nodeAgentOk(['start', id]);
      nodeAgentOk(['delete', '--force', id]);
    }
    assert.equal(existsSync(`${testStateRoot()}/${id}`), false);
  }
  assert.deepEqual(processesWith(marker), []);
  assert.deepEqual(listCgroupTree(cgroupParent), []);
  assert.deepEqual(readdirSync(testStateRoot()), []);
  // A killed sandbox's mount namespace goes with its last process, which the kernel may finish
  // tearing down a moment after the cgroup is empty.
  await waitFor(() => JSON.stringify(hostMounts()) === JSON.stringify(mountsBefore), 2000, 'the host mount table to settle');
  assert.deepEqual(hostMounts(), mountsBefore);
});
