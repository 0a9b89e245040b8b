// node-agent end to end, as root, with real sandboxes: isolation, errors, lifecycle.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildNodeAgent, cleanupStateRoot, containerState, defaultSeccomp, errorLine, hostMounts, installSyscallProbe, isRoot,
  listCgroupTree, makeBundle, makeRootfs, nodeAgent, nodeAgentAsync, nodeAgentBin, nodeAgentOk, processesWith, testStateRoot, uniqueId, waitFor,
  type Bundle, type BundleOptions,
} from './lib/bundle.js';

const skip = isRoot ? false : 'needs root';
let rootfs = '';
const bundles: Bundle[] = [];

function bundle(opts: BundleOptions = {}): Bundle {
  const b = makeBundle({ rootfs, readonlyRoot: true, ...opts });
  bundles.push(b);
  return b;
}

/** `run` to completion; returns stdout, asserting the exit status. */
function run(opts: BundleOptions, status = 0): string {
  const b = bundle(opts);
  const r = nodeAgent(['run', '--bundle', b.dir, uniqueId('run')]);
  assert.equal(r.status, status, `node-agent run exited ${r.status ?? r.signal}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Host pids of the direct children of pid. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function ppidOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** Parses "key=value" lines. */
function kv(out: string): Record<string, string> {
  return Object.fromEntries(out.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

before(() => {
  if (!isRoot) return;
  buildNodeAgent();
  rootfs = makeRootfs();
  installSyscallProbe(rootfs);
});

after(() => {
  if (!isRoot) return;
  cleanupStateRoot();
  for (const b of bundles) b.cleanup();
  rmSync(rootfs, { recursive: true, force: true });
});

describe('node-agent run', { skip }, () => {
  test('prints the output and propagates the exit code', () => {
    const b = bundle({ args: ['/bin/sh', '-c', 'echo out; echo err >&2; exit 7'] });
    const r = nodeAgent(['run', '--bundle', b.dir, uniqueId('run')]);
    assert.equal(r.status, 7);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
  });

  test('a process killed by a signal exits 128+signal; signals are forwarded', async () => {
    const b = bundle({ args: ['/bin/sh', '-c', 'trap "exit 42" USR1; sleep 30 & wait'] });
    const id = uniqueId('sig');
    const running = nodeAgentAsync(['run', '--bundle', b.dir, id]);
    await waitFor(() => existsSync(join(testStateRoot(), id, 'state.json')) && childrenOf(containerState(id).pid).length === 1, 5000, 'the sandbox');
    nodeAgentOk(['kill', id, 'KILL']);
    assert.equal((await running).status, 137);
    // Forwarding: SIGUSR1 to the foreground node-agent reaches the sandbox's handler.
    const id2 = uniqueId('fwd');
    const child = spawn(nodeAgentBin, ['--root', testStateRoot(), 'run', '--bundle', b.dir, id2], { stdio: 'ignore' });
    await waitFor(() => existsSync(join(testStateRoot(), id2, 'state.json')) && childrenOf(containerState(id2).pid).length === 1, 5000, 'the sandbox');
    child.kill('SIGUSR1');
    const code = await new Promise((res) => child.once('exit', res));
    assert.equal(code, 42);
  });

  test('bash runs as /bin/bash', () => {
    assert.equal(run({ args: ['/bin/bash', '-c', 'echo "bash ${BASH_VERSINFO[0]}"'] }).startsWith('bash '), true);
  });

  test('the container is removed after a foreground run', () => {
    const b = bundle({ args: ['/bin/true'] });
    const id = uniqueId('gone');
    nodeAgentOk(['run', '--bundle', b.dir, id]);
    assert.equal(existsSync(join(testStateRoot(), id)), false);
    assert.deepEqual(listCgroupTree(`sandkasten/${id}`), []);
  });
});

describe('isolation', { skip }, () => {
  test('own hostname, PID 1, no host processes, only lo, no capabilities, no_new_privs', () => {
    const script = [
      'echo hostname=$(hostname)',
      'echo pid=$$',
      'echo procs=$(ls /proc | grep -E "^[0-9]+$" | tr "\\n" " ")',
      'echo net=$(ls /sys/class/net | tr "\\n" " ")',
      'grep -E "^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):" /proc/self/status | tr -d "\\t" | tr ":" "="',
      'echo uid=$(id -u) gid=$(id -g)',
    ].join('; ');
    const r = kv(run({ args: ['/bin/sh', '-c', script], hostname: 'box-1' }));
    assert.equal(r.hostname, 'box-1');
    assert.equal(r.pid, '1');
    // sh itself, plus the one-shot ls/grep of the pipeline.
    assert.ok(r.procs!.trim().split(' ').every((p) => Number(p) < 10), `host processes visible: ${r.procs}`);
    assert.equal(r.net!.trim(), 'lo');
    for (const k of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) assert.equal(r[k], '0000000000000000', k);
    assert.equal(r.NoNewPrivs, '1');
    assert.equal(r.Seccomp, '2');
  });

  test('seccomp denies mount, unshare, setns, ptrace, bpf, keyctl, namespaced clone; clone3 is ENOSYS', () => {
    // A distinctive errno proves the filter answered, not a missing capability.
    const profile = defaultSeccomp();
    profile.syscalls[0]!.errnoRet = 77;
    for (const r of profile.syscalls.slice(2)) r.errnoRet = 77;
    const probes = ['getpid', 'mount', 'umount2', 'unshare', 'setns', 'ptrace', 'bpf', 'keyctl', 'add_key', 'request_key', 'clone_newuser', 'clone3'];
    const r = kv(run({ args: ['/bin/syscall-probe', ...probes], seccomp: profile }));
    assert.equal(r.getpid, '0');
    for (const p of probes.slice(1, -1)) assert.equal(r[p], '77', `${p} not denied by seccomp (errno ${r[p]})`);
    assert.equal(r.clone3, '38');
  });

  test('without no_new_privs the filter is still loaded (while privileged) and applies to a non-root user', () => {
    const b = bundle({ user: { uid: 1000, gid: 1000 }, args: ['/bin/sh', '-c', 'grep -E "^(NoNewPrivs|Seccomp):" /proc/self/status | tr -d "\t" | tr ":" "="; /bin/syscall-probe keyctl'] });
    b.config.process.noNewPrivileges = false;
    b.config.linux.seccomp!.syscalls[0]!.errnoRet = 77;
    b.write();
    const r = kv(nodeAgentOk(['run', '--bundle', b.dir, uniqueId('nnp')]).stdout);
    assert.deepEqual(r, { NoNewPrivs: '0', Seccomp: '2', keyctl: '77' });
  });

  test('without the profile the same calls reach the kernel (the probe can tell)', () => {
    const r = kv(run({ args: ['/bin/syscall-probe', 'ptrace', 'keyctl', 'clone3'], seccomp: false }));
    assert.equal(r.ptrace, '3'); // ESRCH: the kernel looked for the pid
    assert.notEqual(r.keyctl, '77');
    assert.notEqual(r.clone3, '38');
  });

  test('masked paths are empty, read-only paths and the root are read-only', () => {
    const script = [
      'echo timer_list=$(wc -c < /proc/timer_list)',
      'echo firmware=$(ls -A /sys/firmware | wc -l)',
      'echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null; echo sysw=$?',
      'grep -q " /proc/sys ro," /proc/self/mountinfo; echo sysro=$?',
      'touch /rootfile 2>/dev/null; echo rootw=$?',
      'touch /tmp/ok; echo tmpw=$?',
    ].join('; ');
    const r = kv(run({ args: ['/bin/sh', '-c', script] }));
    assert.ok(readFileSync('/proc/timer_list').length > 0, 'host /proc/timer_list should have content');
    assert.equal(r.timer_list, '0');
    assert.equal(r.firmware, '0');
    assert.equal(r.sysw, '1');
    assert.equal(r.sysro, '0');
    assert.equal(r.rootw, '1');
    assert.equal(r.tmpw, '0');
  });

  test('default devices exist and nothing else', () => {
    const out = run({ args: ['/bin/sh', '-c', 'ls -A /dev | tr "\\n" " "; echo; head -c 4 /dev/zero | wc -c; echo x > /dev/null && echo null-ok'] });
    const [devs, zero, nul] = out.split('\n');
    assert.deepEqual(devs!.trim().split(' ').sort(), ['core', 'fd', 'full', 'mqueue', 'null', 'ptmx', 'pts', 'random', 'shm', 'stderr', 'stdin', 'stdout', 'tty', 'urandom', 'zero']);
    assert.equal(zero!.trim(), '4');
    assert.equal(nul, 'null-ok');
  });

  test('a device node that came with the image is unusable (the root is nodev)', () => {
    const b = bundle({ rootfs: undefined, readonlyRoot: false, args: ['/bin/sh', '-c', 'head -c 1 /image-zero >/dev/null 2>&1; echo image=$?; head -c 1 /dev/zero | wc -c'] });
    const mk = spawnSync('mknod', [join(b.rootfs, 'image-zero'), 'c', '1', '5']);
    assert.equal(mk.status, 0);
    const r = nodeAgentOk(['run', '--bundle', b.dir, uniqueId('nodev')]);
    assert.equal(r.stdout, 'image=1\n1\n');
  });

  test('overlay root: the upper layer gets the writes, the lower layer is unchanged', () => {
    const before = readFileSync(join(rootfs, 'etc/passwd'), 'utf8');
    const b = bundle({ overlay: true, readonlyRoot: false, args: ['/bin/sh', '-c', 'echo intruder:x:0:0::/:/bin/sh >> /etc/passwd; echo new > /etc/new-file; rm /bin/vi; grep -c intruder /etc/passwd'] });
    const r = nodeAgent(['run', '--bundle', b.dir, uniqueId('ovl')]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '1');
    assert.equal(readFileSync(join(rootfs, 'etc/passwd'), 'utf8'), before);
    assert.equal(existsSync(join(rootfs, 'etc/new-file')), false);
    assert.equal(existsSync(join(rootfs, 'bin/vi')), true);
    assert.equal(readFileSync(join(b.upperdir!, 'etc/new-file'), 'utf8'), 'new\n');
    assert.match(readFileSync(join(b.upperdir!, 'etc/passwd'), 'utf8'), /intruder/);
  });

  test('nothing from a running sandbox appears in the host mount table', async () => {
    const mountsBefore = hostMounts();
    const b = bundle({ overlay: true, readonlyRoot: false, args: ['/bin/sleep', '30'] });
    const id = uniqueId('mnt');
    nodeAgentOk(['run', '--detach', '--bundle', b.dir, id]);
    try {
      assert.equal(containerState(id).status, 'running');
      const pid = containerState(id).pid;
      // The sandbox does have its mounts, in its own namespace.
      assert.match(readFileSync(`/proc/${pid}/mountinfo`, 'utf8'), / \/ rw,nodev,relatime - overlay /);
      assert.deepEqual(hostMounts(), mountsBefore);
      assert.equal(readFileSync('/proc/self/mountinfo', 'utf8').includes(b.dir), false);
    } finally {
      nodeAgentOk(['delete', '--force', id]);
    }
    assert.deepEqual(hostMounts(), mountsBefore);
  });

  test('bind mounts: read-only, read-write, a single file; oomScoreAdj', () => {
    const host = join(rootfs, '..', uniqueId('bind'));
    mkdirSync(join(host, 'ro'), { recursive: true });
    mkdirSync(join(host, 'rw'));
    writeFileSync(join(host, 'ro/data'), 'from-host\n');
    writeFileSync(join(host, 'file'), 'one-file\n');
    try {
      const b = bundle({
        args: ['/bin/sh', '-c', 'cat /data/ro/data; echo x > /data/ro/new 2>/dev/null; echo ro=$?; echo written > /data/rw/out; cat /etc/extra; cat /proc/self/oom_score_adj'],
        extraMounts: [
          { destination: '/data/ro', type: 'bind', source: join(host, 'ro'), options: ['rbind', 'ro', 'nosuid', 'nodev'] },
          { destination: '/data/rw', type: 'none', source: join(host, 'rw'), options: ['bind', 'rw'] },
          { destination: '/etc/extra', type: 'bind', source: join(host, 'file'), options: ['bind', 'ro'] },
        ],
      });
      b.config.process.oomScoreAdj = 500;
      b.write();
      const r = nodeAgentOk(['run', '--bundle', b.dir, uniqueId('bind')]);
      assert.equal(r.stdout, 'from-host\nro=1\none-file\n500\n');
      assert.equal(readFileSync(join(host, 'rw/out'), 'utf8'), 'written\n');
      assert.equal(existsSync(join(host, 'ro/new')), false);
      // The mount points were made inside the (read-only) root's overlay of nothing: on the host
      // rootfs only where the image lacked them, never through a symlink out of it.
      assert.equal(existsSync(join(rootfs, 'data/ro')), true);
    } finally {
      rmSync(host, { recursive: true, force: true });
      rmSync(join(rootfs, 'data'), { recursive: true, force: true });
      rmSync(join(rootfs, 'etc/extra'), { force: true });
    }
  });

  test('a mount destination cannot escape the root through a symlink', () => {
    const b = bundle({ rootfs: undefined, args: ['/bin/true'], extraMounts: [{ destination: '/escape/x', type: 'tmpfs', source: 'tmpfs' }] });
    const outside = `/var/tmp/${uniqueId('escape')}`; // a host path (not below the sandbox's /tmp tmpfs)
    mkdirSync(outside);
    try {
      symlinkSync(outside, join(b.rootfs, 'escape')); // an absolute link, as an image could ship it
      nodeAgentOk(['run', '--bundle', b.dir, uniqueId('escape')]);
      assert.equal(existsSync(join(outside, 'x')), false, 'the mount point was created outside the root');
      assert.equal(existsSync(join(b.rootfs, outside, 'x')), true, 'the link was followed inside the root');
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  test('a user namespace maps root to an unprivileged host uid', () => {
    const b = bundle({ args: ['/bin/sh', '-c', 'echo uid=$(id -u); cat /proc/self/uid_map'] });
    b.config.linux.namespaces.push({ type: 'user' });
    b.config.linux.uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
    b.config.linux.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
    b.write();
    const r = nodeAgent(['run', '--bundle', b.dir, uniqueId('userns')]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /uid=0\n\s*0\s+200000\s+65536/);
  });

  test('joins existing namespaces given by path', () => {
    const a = bundle({ args: ['/bin/sleep', '30'], hostname: 'first' });
    const idA = uniqueId('nsa');
    nodeAgentOk(['run', '--detach', '--bundle', a.dir, idA]);
    try {
      const pidA = containerState(idA).pid;
      const b = bundle({ args: ['/bin/sh', '-c', 'for n in net uts ipc; do readlink /proc/self/ns/$n; done; hostname; echo pid=$$'] });
      b.config.hostname = undefined;
      b.config.linux.namespaces = b.config.linux.namespaces.map((n) => ['network', 'uts', 'ipc', 'pid'].includes(n.type)
        ? { type: n.type, path: `/proc/${pidA}/ns/${n.type === 'network' ? 'net' : n.type}` } : n);
      b.write();
      const r = nodeAgentOk(['run', '--bundle', b.dir, uniqueId('nsb')]);
      const want = ['net', 'uts', 'ipc'].map((n) => readlinkSync(`/proc/${pidA}/ns/${n}`));
      const lines = r.stdout.split('\n');
      assert.deepEqual(lines.slice(0, 3), want);
      assert.equal(lines[3], 'first');
      assert.notEqual(lines[4], 'pid=1', 'in the first sandbox\'s pid namespace, not the init of a new one');
    } finally {
      nodeAgentOk(['delete', '--force', idA]);
    }
  });

  test('a non-root user with supplementary groups, rlimits and umask', () => {
    const b = bundle({ user: { uid: 1000, gid: 1000, additionalGids: [5, 100] }, args: ['/bin/sh', '-c', 'id; ulimit -n; umask'] });
    b.config.process.user.umask = 0o027;
    b.config.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 256, hard: 512 }];
    b.write();
    const r = nodeAgentOk(['run', '--bundle', b.dir, uniqueId('user')]);
    assert.match(r.stdout, /uid=1000 gid=1000 groups=5\(tty\),100/);
    assert.match(r.stdout, /\n256\n0027\n$/);
  });

  test('the default devices are usable by a non-root user whatever the caller\'s umask', () => {
    const b = bundle({ user: { uid: 1000, gid: 1000 }, args: ['/bin/sh', '-c', 'echo x > /dev/null && head -c 4 /dev/zero | wc -c && stat -c %a /dev/null /dev/zero /dev/urandom'] });
    const old = process.umask(0o077);
    try {
      const r = nodeAgentOk(['run', '--bundle', b.dir, uniqueId('devs')]);
      assert.equal(r.stdout.trim().split(/\s+/).join(' '), '4 666 666 666');
    } finally {
      process.umask(old);
    }
  });
});

describe('errors', { skip }, () => {
  function failJson(b: Bundle, id = uniqueId('err')): { msg: string; errno: number; status: number | null } {
    const r = nodeAgent(['run', '--bundle', b.dir, id], { json: true });
    assert.notEqual(r.status, 0);
    assert.equal(r.stdout, '');
    const e = errorLine(r.stderr);
    assert.equal(e.level, 'error');
    assert.equal(existsSync(join(testStateRoot(), id)), false, 'a failed create leaves no state');
    return { ...e, status: r.status };
  }

  test('unsupported config fields are refused, naming the field', () => {
    const cases: [string, (b: Bundle) => void][] = [
      ['process.terminal', (b) => { b.config.process.terminal = true; }],
      ['linux.sysctl', (b) => { b.config.linux.sysctl = { 'net.ipv4.ip_forward': '1' }; }],
      ['hooks', (b) => { b.config.hooks = { prestart: [{ path: '/bin/true' }] }; }],
      ['linux.namespaces[0].type', (b) => { b.config.linux.namespaces[0] = { type: 'time' }; }],
      ['linux.devices', (b) => { b.config.linux.devices = [{ path: '/dev/sda', type: 'b', major: 8, minor: 0 }]; }],
      ['mounts[7].type', (b) => { b.config.mounts.push({ destination: '/mnt', type: 'nfs', source: 'srv:/x' }); }],
      ['mounts[7].options[1]', (b) => { b.config.mounts.push({ destination: '/mnt', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'uid=0,gid=0'] }); }],
      ['process.foo', (b) => { b.config.process.foo = 1; }],
      ['process.capabilities', (b) => { b.config.process.capabilities = { bounding: ['CAP_MKNOD'] }; }],
      ['mounts[5]', (b) => { b.config.mounts[5]!.options = ['nosuid']; }],
      ['linux.resources.blockIO', (b) => { b.config.linux.resources = { blockIO: { weight: 10 } }; }],
      ['sandkasten.dev/overlay.lowerdir', (b) => { b.config.annotations = { 'sandkasten.dev/overlay.lowerdir': '/x' }; }],
    ];
    for (const [field, mutate] of cases) {
      const b = bundle();
      mutate(b);
      b.write();
      const e = failJson(b);
      assert.ok(e.msg.includes(field), `error for ${field} does not name it: ${e.msg}`);
      assert.ok(e.errno === 95 || e.errno === 22, `errno ${e.errno} for ${field}`);
    }
  });

  test('a missing rootfs names the path and ENOENT', () => {
    const b = bundle();
    b.config.root.path = '/nonexistent/rootfs';
    b.write();
    const e = failJson(b);
    assert.match(e.msg, /setup_rootfs: root.path `\/nonexistent\/rootfs`/);
    assert.equal(e.errno, 2);
  });

  test('bad JSON names line and column', () => {
    const b = bundle();
    writeFileSync(join(b.dir, 'config.json'), '{\n  "ociVersion": "1.0.2",\n  "process": {,}\n}');
    const e = failJson(b);
    assert.match(e.msg, /config.json: invalid JSON: .* line 3, column 15/);
    assert.equal(e.errno, 22);
  });

  test('the JSON parser is strict: each malformed document is a clear error', () => {
    const cases: [string, RegExp][] = [
      ['{"ociVersion": "1.0.2",}', /expected a string key at line 1/],
      ['{"a": 1, "a": 2}', /duplicate key `a`/],
      ['{"a": [1, 2,]}', /unexpected character/],
      ['{"a": "\\x"}', /bad escape/],
      ['{"a": "\\u0000"}', /NUL character in string/],
      ['{"a": "\\ud800"}', /unpaired surrogate/],
      ['{"a": 01}', /expected `,` or `}`/],
      ['{"a": 1} x', /trailing characters/],
      ['{"a": "unterminated', /unterminated string/],
      [`${'['.repeat(100)}${']'.repeat(100)}`, /nesting too deep/],
      ['', /expected a value at end of input/],
    ];
    for (const [doc, re] of cases) {
      const b = bundle();
      writeFileSync(join(b.dir, 'config.json'), doc);
      const e = failJson(b);
      assert.match(e.msg, re, doc);
      assert.match(e.msg, /^run `[^`]+`: config.json: invalid JSON: /);
    }
    const b = bundle();
    writeFileSync(join(b.dir, 'config.json'), Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d])); // {"a":"\xc3("}
    assert.match(failJson(b).msg, /invalid UTF-8 in string at line 1, column 7/);
  });

  test('values the parser must keep exact: unicode escapes, 64-bit seccomp arguments', () => {
    const b = bundle({ args: ['/bin/sh', '-c', 'echo "$GREETING"'] });
    b.config.process.env = [...b.config.process.env, 'GREETING=PLACEHOLDER'];
    b.config.linux.seccomp!.syscalls.push({ names: ['personality'], action: 'SCMP_ACT_ERRNO', errnoRet: 1,
      args: [{ index: 0, value: 12345, valueTwo: 0, op: 'SCMP_CMP_EQ' }] });
    // Escapes (with a surrogate pair) as another tool may write them, and a uint64 no double holds.
    const text = JSON.stringify(b.config)
      .replace('"GREETING=PLACEHOLDER"', '"GREETING=gr\\u00fc\\u00dfe \\ud83d\\ude00"')
      .replace('"value":12345', '"value":18446744073709551615');
    assert.ok(text.includes('18446744073709551615') && text.includes('\\ud83d'));
    writeFileSync(join(b.dir, 'config.json'), text);
    const r = nodeAgentOk(['run', '--bundle', b.dir, uniqueId('json')]);
    assert.equal(r.stdout, 'grüße 😀\n');
  });

  test('a missing executable is reported at create, not after start', () => {
    const e = failJson(bundle({ args: ['/bin/no-such-binary'] }));
    assert.match(e.msg, /exec: `\/bin\/no-such-binary`/);
    assert.equal(e.errno, 2);
  });

  test('an error inside the container process travels back with its step', () => {
    const b = bundle({ extraMounts: [{ destination: '/data', type: 'bind', source: '/nonexistent-source', options: ['rbind'] }] });
    const e = failJson(b);
    assert.match(e.msg, /setup_mounts: mounts\[7\]: bind source `\/nonexistent-source`/);
    assert.equal(e.errno, 2);
  });

  test('unknown ids: state, start, kill, delete', () => {
    for (const args of [['state', 'nope-x'], ['start', 'nope-x'], ['kill', 'nope-x'], ['delete', 'nope-x']]) {
      const r = nodeAgent(args, { json: true });
      assert.equal(r.status, 1);
      const e = errorLine(r.stderr);
      assert.match(e.msg, /container `nope-x` does not exist/);
      assert.equal(e.errno, 2);
    }
    assert.equal(nodeAgent(['delete', '--force', 'nope-x']).status, 0);
  });

  test('--log FILE gets the error line too', () => {
    const log = join(rootfs, '..', `${uniqueId('log')}.log`);
    try {
      const r = nodeAgent(['--log', log, 'state', 'nope-z'], { json: true });
      assert.equal(r.status, 1);
      assert.deepEqual(JSON.parse(readFileSync(log, 'utf8')), errorLine(r.stderr));
    } finally {
      rmSync(log, { force: true });
    }
  });

  test('text mode prints node-agent: error:', () => {
    const r = nodeAgent(['state', 'nope-y']);
    assert.equal(r.stderr, 'node-agent: error: container `nope-y` does not exist: No such file or directory\n');
  });

  test('usage errors and refused runc flags', () => {
    for (const [args, re] of [
      [['frobnicate'], /unknown command `frobnicate`/],
      [['create'], /expected exactly one container id/],
      [['kill', 'x', 'SIGNOPE'], /unknown signal `SIGNOPE`/],
      [['--systemd-cgroup', 'list'], /--systemd-cgroup is not supported/],
      [['create', '--console-socket', '/x', 'id'], /--console-socket is not supported/],
      [['create', 'bad/id'], /invalid container id/],
    ] as [string[], RegExp][]) {
      const r = nodeAgent(args, { json: true });
      assert.equal(r.status, 1, args.join(' '));
      assert.match(errorLine(r.stderr).msg, re);
    }
  });

  test('an existing id is refused', () => {
    const b = bundle({ args: ['/bin/sleep', '30'] });
    const id = uniqueId('dup');
    nodeAgentOk(['run', '--detach', '--bundle', b.dir, id]);
    try {
      const r = nodeAgent(['create', '--bundle', b.dir, id], { json: true });
      assert.equal(errorLine(r.stderr).errno, 17);
      assert.equal(containerState(id).status, 'running', 'the existing container is untouched');
    } finally {
      nodeAgentOk(['delete', '--force', id]);
    }
  });
});

describe('lifecycle', { skip }, () => {
  test('create -> created -> start -> running -> exits -> stopped -> delete', async () => {
    const b = bundle({ args: ['/bin/sh', '-c', 'sleep 0.3'] });
    const id = uniqueId('life');
    const pidFile = join(b.dir, 'pid');
    nodeAgentOk(['create', '--bundle', b.dir, '--pid-file', pidFile, id]);
    const s1 = containerState(id);
    assert.equal(s1.status, 'created');
    assert.equal(s1.bundle, b.dir);
    assert.equal(Number(readFileSync(pidFile, 'utf8')), s1.pid);
    // node-agent has exited; the container process waits on its own.
    assert.notEqual(ppidOf(s1.pid), process.pid);
    nodeAgentOk(['start', id]);
    assert.equal(containerState(id).status, 'running');
    assert.equal(nodeAgent(['start', id], { json: true }).status, 1, 'a second start is refused');
    await waitFor(() => containerState(id).status === 'stopped', 5000, 'the process to exit');
    assert.equal(containerState(id).pid, 0);
    nodeAgentOk(['delete', id]);
    assert.equal(nodeAgent(['state', id]).status, 1);
    assert.deepEqual(listCgroupTree(`sandkasten/${id}`), []);
  });

  test('state and list show annotations; list --format json', () => {
    const b = bundle({ args: ['/bin/sleep', '30'], annotations: { 'example.com/owner': 'tests' } });
    const id = uniqueId('list');
    nodeAgentOk(['create', '--bundle', b.dir, id]);
    try {
      assert.deepEqual(containerState(id).annotations, { 'example.com/owner': 'tests' });
      const all = JSON.parse(nodeAgentOk(['list', '--format', 'json']).stdout) as { id: string; status: string }[];
      assert.equal(all.find((c) => c.id === id)?.status, 'created');
      assert.match(nodeAgentOk(['list']).stdout, new RegExp(`^${id}\\s+\\d+\\s+created`, 'm'));
    } finally {
      nodeAgentOk(['delete', id]);
    }
  });

  test('kill: by name and number, to a handler; --all; stopped after KILL', async () => {
    const b = bundle({ args: ['/bin/sh', '-c', 'trap "exit 3" TERM; sleep 30 & wait'] });
    const id = uniqueId('kill');
    nodeAgentOk(['run', '--detach', '--bundle', b.dir, id]);
    try {
      const pid = containerState(id).pid;
      // The trap is set once sh has forked its sleep (pid 1 ignores TERM without a handler).
      await waitFor(() => childrenOf(pid).length === 1, 5000, 'the trap');
      nodeAgentOk(['kill', id, 'TERM']);
      await waitFor(() => containerState(id).status === 'stopped', 5000, 'TERM to stop it');
      assert.equal(nodeAgent(['kill', id, 'KILL'], { json: true }).status, 1, 'killing a stopped container is an error');
    } finally {
      nodeAgentOk(['delete', '--force', id]);
    }
    const b2 = bundle({ args: ['/bin/sh', '-c', 'sleep 31 & sleep 32 & wait'] });
    const id2 = uniqueId('killall');
    nodeAgentOk(['run', '--detach', '--bundle', b2.dir, id2]);
    try {
      const pid = containerState(id2).pid;
      await waitFor(() => childrenOf(pid).length === 2, 5000, 'children');
      const kids = childrenOf(pid);
      nodeAgentOk(['kill', '--all', id2, '9']);
      await waitFor(() => containerState(id2).status === 'stopped' && kids.every((k) => !existsSync(`/proc/${k}/cmdline`) || readFileSync(`/proc/${k}/cmdline`).length === 0), 5000, 'all killed');
    } finally {
      nodeAgentOk(['delete', id2]);
    }
  });

  test('delete refuses a running sandbox; --force removes it with every process and cgroup', async () => {
    const marker = uniqueId('marker');
    const b = bundle({ args: ['/bin/sh', '-c', `sleep 100 & sleep 100 & wait; : ${marker}`] });
    const id = uniqueId('del');
    nodeAgentOk(['run', '--detach', '--bundle', b.dir, id]);
    await waitFor(() => processesWith(marker).length === 1, 5000, 'the sandbox');
    const r = nodeAgent(['delete', id], { json: true });
    assert.equal(r.status, 1);
    assert.match(errorLine(r.stderr).msg, /running/);
    nodeAgentOk(['delete', '--force', id]);
    assert.deepEqual(processesWith(marker), []);
    assert.deepEqual(listCgroupTree(`sandkasten/${id}`), []);
    assert.equal(existsSync(join(testStateRoot(), id)), false);
  });

  test('the sandbox keeps running after node-agent and its caller are gone', async () => {
    const b = bundle({ args: ['/bin/sleep', '30'] });
    const id = uniqueId('orphan');
    // The caller is a shell that exits right after create + start.
    const sh = spawnSync('/bin/sh', ['-c', `"$0" --root "$1" create --bundle "$2" "$3" </dev/null >/dev/null 2>&1 && "$0" --root "$1" start "$3"`, nodeAgentBin, testStateRoot(), b.dir, id]);
    assert.equal(sh.status, 0);
    try {
      const s = containerState(id);
      assert.equal(s.status, 'running');
      assert.notEqual(ppidOf(s.pid), process.pid);
      assert.equal(existsSync(`/proc/${s.pid}`), true);
    } finally {
      nodeAgentOk(['delete', '--force', id]);
    }
  });

  test('exec runs in the sandbox: same pid namespace, hostname, cgroup; exit code propagates', () => {
    const b = bundle({ args: ['/bin/sleep', '30'], hostname: 'exec-box' });
    const id = uniqueId('exec');
    nodeAgentOk(['run', '--detach', '--bundle', b.dir, id]);
    try {
      const r = nodeAgent(['exec', id, '--', '/bin/sh', '-c', 'hostname; cat /proc/1/cmdline | tr "\\0" " "; echo; grep CapEff /proc/self/status; exit 5']);
      assert.equal(r.status, 5, r.stderr);
      assert.match(r.stdout, /^exec-box\n\/bin\/sleep 30 \nCapEff:\t0000000000000000\n$/);
      // Detached, with a pid file: the process is in the sandbox's cgroup.
      const pidFile = join(b.dir, 'exec.pid');
      nodeAgentOk(['exec', '--detach', '--pid-file', pidFile, id, '/bin/sleep', '5']);
      const execPid = Number(readFileSync(pidFile, 'utf8'));
      assert.match(readFileSync(`/proc/${execPid}/cgroup`, 'utf8'), new RegExp(`/sandkasten/${id}\n`));
      const env = nodeAgentOk(['exec', '--env', 'FOO=bar', '--cwd', '/tmp', '--user', '1000:1000', id, '/bin/sh', '-c', 'echo $FOO $(pwd) $(id -u)']);
      assert.equal(env.stdout, 'bar /tmp 1000\n');
      const bad = nodeAgent(['exec', id, '/bin/nope'], { json: true });
      assert.equal(bad.status, 1);
      assert.match(errorLine(bad.stderr).msg, /nope/);
    } finally {
      nodeAgentOk(['delete', '--force', id]);
    }
  });

  test('exec --process takes a process.json', () => {
    const b = bundle({ args: ['/bin/sleep', '30'] });
    const id = uniqueId('execp');
    nodeAgentOk(['run', '--detach', '--bundle', b.dir, id]);
    try {
      const p = join(b.dir, 'process.json');
      writeFileSync(p, JSON.stringify({ args: ['/bin/sh', '-c', 'echo $X; id -u'], env: ['X=from-json', 'PATH=/bin'], cwd: '/', user: { uid: 7, gid: 7 }, noNewPrivileges: true }));
      assert.equal(nodeAgentOk(['exec', '--process', p, id]).stdout, 'from-json\n7\n');
    } finally {
      nodeAgentOk(['delete', '--force', id]);
    }
  });

  test('resources land in the cgroup', () => {
    const b = bundle({ args: ['/bin/sh', '-c', 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max'],
      resources: { memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 64 }, cpu: { quota: 50000, period: 100000 } }, cgroupMount: true });
    const r = nodeAgent(['run', '--bundle', b.dir, uniqueId('res')]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${64 * 1024 * 1024}\n64\n`);
  });
});

describe('check', { skip }, () => {
  test('reports the host as JSON', () => {
    const c = JSON.parse(nodeAgentOk(['check']).stdout) as Record<string, unknown> & { cgroup: { mode: string; controllers: string[] } };
    assert.match(String(c.kernel), /^\d+\.\d+/);
    assert.ok(['v1', 'v2'].includes(c.cgroup.mode));
    assert.ok(c.cgroup.controllers.includes('memory'));
    for (const k of ['overlayfs', 'userNamespaces', 'seccomp', 'pidfd', 'clone3', 'openat2', 'mountSetattr', 'ok']) assert.equal(typeof c[k], 'boolean', k);
    assert.equal(c.ok, true);
  });
});
