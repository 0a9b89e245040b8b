// node-agent against crun with the same bundle: the sandbox must look the same from inside.
// Speed is compared in `npm run bench:sandbox`, not here.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import {
  buildNodeAgent, cleanupStateRoot, crun, crunBin, installSyscallProbe, isRoot, makeBundle, makeRootfs, nodeAgent,
  uniqueId, type Bundle,
} from './lib/bundle.js';

const skip = !isRoot ? 'needs root' : !crunBin ? 'crun is not installed' : false;
const crunRoot = `/run/sandkasten-test-crun-${process.pid}`;
let rootfs = '';
const bundles: Bundle[] = [];

before(() => {
  if (skip) return;
  buildNodeAgent();
  rootfs = makeRootfs();
  installSyscallProbe(rootfs);
});

after(() => {
  if (skip) return;
  cleanupStateRoot();
  for (const b of bundles) b.cleanup();
  rmSync(rootfs, { recursive: true, force: true });
  rmSync(crunRoot, { recursive: true, force: true });
});

// What a sandbox sees of itself; every line must be deterministic.
const probe = [
  'hostname', 'id', 'echo pid=$$', 'grep -E "^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):" /proc/self/status',
  'ls -A /dev', 'ls /sys/class/net', 'ulimit -n', 'umask', 'pwd', 'env | sort', 'touch /x 2>/dev/null; echo rootw=$?',
  'echo timer_list=$(cat /proc/timer_list | wc -c)', 'echo firmware=$(ls -A /sys/firmware | wc -l)',
  'echo 1 2>/dev/null > /proc/sys/kernel/ns_last_pid; echo sysw=$?',
  // mount point, fs type and ro/rw (the other flags legitimately differ in detail)
  'awk \'{ for (i = 7; $i != "-"; i++); print $5, $(i+1), substr($6, 1, 2) }\' /proc/self/mountinfo | sort',
  '/bin/syscall-probe getpid mount umount2 unshare setns ptrace bpf keyctl add_key clone_newuser clone3',
].join('; ');

describe('node-agent and crun', { skip }, () => {
  test('the same bundle gives the same sandbox', () => {
    const b = makeBundle({ rootfs, readonlyRoot: true, args: ['/bin/sh', '-c', probe], hostname: 'parity' });
    bundles.push(b);
    const ours = nodeAgent(['run', '--bundle', b.dir, uniqueId('par')]);
    const theirs = crun(['run', '--bundle', b.dir, uniqueId('par-crun')], crunRoot);
    assert.equal(ours.status, 0, ours.stderr);
    assert.equal(theirs.status, 0, theirs.stderr);
    assert.match(ours.stdout, /^parity\nuid=0\(root\) gid=0\(root\)\npid=1\n/);
    assert.equal(ours.stdout, theirs.stdout);
    assert.equal(ours.stderr, theirs.stderr);
  });

  test('exit codes agree', () => {
    const b = makeBundle({ rootfs, readonlyRoot: true, args: ['/bin/sh', '-c', 'exit 3'] });
    bundles.push(b);
    assert.equal(nodeAgent(['run', '--bundle', b.dir, uniqueId('rc')]).status, 3);
    assert.equal(crun(['run', '--bundle', b.dir, uniqueId('rc-crun')], crunRoot).status, 3);
  });
});
