// The built-in image: its skeleton on this host and on a fake non-merged-/usr host, what it must
// never copy, idempotence and updates, and real sandboxes run from it by node-agent.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, readdirSync, rmSync, statSync, symlinkSync,
  utimesSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUNDLED_NODE_AGENT } from '../config/index.js';
import { builtinImageMounts, prepareBuiltinImage, SANDBOX_UID } from './builtin.js';
import { layerPaths, readImageMeta, type ImageMeta } from './meta.js';
import { treeDigest } from './tree.js';

const isRoot = process.getuid?.() === 0;
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function temp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** Every path below root, relative. */
function listTree(root: string, rel = ''): string[] {
  return readdirSync(join(root, rel), { withFileTypes: true }).flatMap((e) => {
    const r = rel ? `${rel}/${e.name}` : e.name;
    return e.isDirectory() ? [r, ...listTree(root, r)] : [r];
  });
}

describe('built-in image on this host', () => {
  const dataDir = temp('sk-builtin-');
  const meta = prepareBuiltinImage(dataDir);
  const rootfs = join(dataDir, 'images/base/rootfs');

  it('writes meta.json: one layer, /usr read-only from the host, config', () => {
    assert.deepEqual(readImageMeta(dataDir, 'base'), meta);
    assert.equal(meta.source, 'builtin://host');
    assert.deepEqual(meta.layers, ['images/base/rootfs']);
    assert.deepEqual(layerPaths(dataDir, meta), [rootfs]);
    assert.equal(meta.digest, treeDigest(rootfs));
    assert.deepEqual(meta.mounts[0], { destination: '/usr', source: '/usr', options: ['rbind', 'ro', 'nosuid', 'nodev'] });
    assert.deepEqual(builtinImageMounts(meta)[0], { destination: '/usr', type: 'bind', source: '/usr', options: ['rbind', 'ro', 'nosuid', 'nodev'] });
    assert.equal(meta.config.workingDir, '/workspace');
    assert.equal(meta.config.user, 'root');
    assert.ok(meta.config.env?.includes('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'));
  });

  it('has /bin, /lib… as the host has them: the same symlink, or a bind-mounted directory', () => {
    for (const d of ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']) {
      const host = lstatSync(`/${d}`, { throwIfNoEntry: false });
      if (host?.isSymbolicLink()) assert.equal(readlinkSync(join(rootfs, d)), readlinkSync(`/${d}`), d);
      else if (host?.isDirectory()) {
        assert.ok(statSync(join(rootfs, d)).isDirectory(), d);
        assert.ok(meta.mounts.some((m) => m.destination === `/${d}` && m.source === `/${d}` && m.options.includes('ro')), d);
      } else assert.ok(!existsSync(join(rootfs, d)), d);
    }
  });

  it('has the mount points with the right modes and owners', () => {
    const mode = (p: string) => statSync(join(rootfs, p)).mode & 0o7777;
    assert.equal(mode('tmp'), 0o1777);
    assert.equal(mode('var/tmp'), 0o1777);
    assert.equal(mode('root'), 0o700);
    assert.equal(mode('.'), 0o755);
    for (const p of ['usr', 'proc', 'sys', 'dev', 'run', 'workspace', 'home/sandbox', 'etc']) assert.ok(statSync(join(rootfs, p)).isDirectory(), p);
    if (isRoot) assert.equal(statSync(join(rootfs, 'home/sandbox')).uid, SANDBOX_UID);
  });

  it('copies nothing secret from /etc: generated users, no shadow, keys, machine-id or host identity', () => {
    const etc = join(rootfs, 'etc');
    const users = readFileSync(join(etc, 'passwd'), 'utf8').trim().split('\n').map((l) => l.split(':')[0]);
    assert.deepEqual(users, ['root', 'sandbox', 'nobody']);
    assert.deepEqual(readFileSync(join(etc, 'group'), 'utf8').trim().split('\n').map((l) => l.split(':')[0]), ['root', 'tty', 'users', 'sandbox', 'nogroup']);
    for (const p of ['shadow', 'gshadow', 'ssh', 'machine-id', 'ssl/private', 'sudoers', 'environment', 'subuid', 'fstab', 'crypttab']) {
      assert.ok(!existsSync(join(etc, p)), `etc/${p} must not exist`);
    }
    assert.equal(readFileSync(join(etc, 'hostname'), 'utf8'), 'sandbox\n');
    assert.doesNotMatch(readFileSync(join(etc, 'resolv.conf'), 'utf8'), /nameserver/);
    // Every regular file in the skeleton is generated or was world-readable on the host.
    for (const p of listTree(etc)) {
      const st = lstatSync(join(etc, p));
      if (st.isFile()) assert.ok((st.mode & 0o4) !== 0 && (st.mode & 0o6000) === 0, `etc/${p}`);
    }
    if (existsSync('/etc/ld.so.cache')) assert.ok(readFileSync(join(etc, 'ld.so.cache')).equals(readFileSync('/etc/ld.so.cache')));
  });

  it('replicates /etc/alternatives as links only', () => {
    if (!existsSync('/etc/alternatives')) return;
    for (const name of readdirSync('/etc/alternatives')) {
      const host = lstatSync(join('/etc/alternatives', name));
      const p = join(rootfs, 'etc/alternatives', name);
      if (host.isSymbolicLink()) assert.equal(readlinkSync(p), readlinkSync(join('/etc/alternatives', name)));
      else assert.ok(!existsSync(p), name);
    }
  });

  it('is idempotent: a second run writes nothing', () => {
    const metaFile = join(dataDir, 'images/base/meta.json');
    const before = { meta: statSync(metaFile), passwd: statSync(join(rootfs, 'etc/passwd')) };
    const again = prepareBuiltinImage(dataDir);
    assert.deepEqual(again, meta);
    assert.equal(statSync(metaFile).mtimeMs, before.meta.mtimeMs);
    assert.equal(statSync(join(rootfs, 'etc/passwd')).ino, before.passwd.ino);
    assert.deepEqual(readdirSync(join(dataDir, 'images/base')).sort(), ['meta.json', 'rootfs']);
  });

  it('removes temp trees of crashed runs, not ones that may be in progress', () => {
    const stale = join(dataDir, 'images/base/.rootfs-crashed');
    const fresh = join(dataDir, 'images/base/.rootfs-building');
    mkdirSync(join(stale, 'etc'), { recursive: true });
    mkdirSync(fresh);
    const old = new Date(Date.now() - 3600_000);
    utimesSync(stale, old, old);
    prepareBuiltinImage(dataDir);
    assert.ok(!existsSync(stale));
    assert.ok(existsSync(fresh));
    rmSync(fresh, { recursive: true });
  });

  it('repairs a damaged tree', () => {
    writeFileSync(join(rootfs, 'etc/passwd'), 'mallory:x:0:0::/:/bin/sh\n');
    rmSync(join(rootfs, 'tmp'), { recursive: true });
    const again = prepareBuiltinImage(dataDir);
    assert.equal(again.digest, meta.digest);
    assert.match(readFileSync(join(rootfs, 'etc/passwd'), 'utf8'), /^root:/);
    assert.equal(statSync(join(rootfs, 'tmp')).mode & 0o7777, 0o1777);
  });
});

describe('built-in image from a host without merged /usr', () => {
  const host = temp('sk-fakehost-');
  const files: Record<string, [string, number]> = {
    'usr/bin/tool': ['#!/bin/sh\n', 0o755],
    'bin/sh': ['#!/bin/sh\n', 0o755],
    'lib/libc.so': ['elf', 0o644],
    'etc/passwd': ['root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n', 0o644],
    'etc/shadow': ['alice:$6$hash:::', 0o640],
    'etc/machine-id': ['0123456789abcdef\n', 0o444],
    'etc/ssh/ssh_host_ed25519_key': ['PRIVATE', 0o600],
    'etc/ssl/private/server.key': ['PRIVATE', 0o600],
    'etc/ssl/certs/ca.pem': ['CERT', 0o644],
    'etc/ssl/certs/stray.key': ['PRIVATE', 0o600],
    'etc/ld.so.cache': ['cache-v1', 0o644],
    'etc/os-release': ['ID=fake\n', 0o644],
    'etc/alternatives/README': ['readme', 0o644],
  };
  for (const [p, [text, mode]] of Object.entries(files)) {
    mkdirSync(join(host, p, '..'), { recursive: true });
    writeFileSync(join(host, p), text);
    chmodSync(join(host, p), mode);
  }
  symlinkSync('usr/lib64', join(host, 'lib64'));
  symlinkSync('/usr/bin/tool', join(host, 'etc/alternatives/editor'));
  const dataDir = temp('sk-builtin-fake-');
  const rootfs = join(dataDir, 'images/base/rootfs');
  const meta = prepareBuiltinImage(dataDir, { hostRoot: host });

  it('bind-mounts the real directories and replicates the symlinks', () => {
    assert.deepEqual(meta.mounts.map((m) => [m.destination, m.source]), [['/usr', join(host, 'usr')], ['/bin', join(host, 'bin')], ['/lib', join(host, 'lib')]]);
    assert.ok(meta.mounts.every((m) => m.options.includes('ro') && m.options.includes('nosuid')));
    assert.equal(readlinkSync(join(rootfs, 'lib64')), 'usr/lib64');
    assert.ok(statSync(join(rootfs, 'bin')).isDirectory());
    assert.deepEqual(readdirSync(join(rootfs, 'bin')), [], 'a mount point, not a copy');
  });

  it('takes only allow-listed, world-readable files', () => {
    assert.deepEqual(listTree(join(rootfs, 'etc/ssl')), ['certs', 'certs/ca.pem']);
    assert.deepEqual(listTree(join(rootfs, 'etc/alternatives')), ['editor']);
    assert.equal(readlinkSync(join(rootfs, 'etc/alternatives/editor')), '/usr/bin/tool');
    assert.equal(readFileSync(join(rootfs, 'etc/os-release'), 'utf8'), 'ID=fake\n');
    for (const p of ['shadow', 'machine-id', 'ssh']) assert.ok(!existsSync(join(rootfs, 'etc', p)), p);
    assert.doesNotMatch(readFileSync(join(rootfs, 'etc/passwd'), 'utf8'), /alice/);
    // No bash on this host: users get /bin/sh.
    assert.match(readFileSync(join(rootfs, 'etc/passwd'), 'utf8'), /^root:x:0:0:root:\/root:\/bin\/sh$/m);
    assert.ok(!meta.config.env?.some((e) => e.startsWith('LANG=')), 'no C.UTF-8 locale on this host');
  });

  it('follows host changes in place, replacing only what changed', () => {
    const passwdIno = statSync(join(rootfs, 'etc/passwd')).ino;
    writeFileSync(join(host, 'etc/ld.so.cache'), 'cache-v2');
    rmSync(join(host, 'etc/os-release'));
    const next = prepareBuiltinImage(dataDir, { hostRoot: host });
    assert.notEqual(next.digest, meta.digest);
    assert.equal(next.digest, treeDigest(rootfs));
    assert.deepEqual(readImageMeta(dataDir, 'base'), next);
    assert.equal(readFileSync(join(rootfs, 'etc/ld.so.cache'), 'utf8'), 'cache-v2');
    assert.ok(!existsSync(join(rootfs, 'etc/os-release')));
    assert.equal(statSync(join(rootfs, 'etc/passwd')).ino, passwdIno);
  });
});

// ---- real sandboxes ------------------------------------------------------------------------------

interface SandboxRun {
  status: number | null;
  stdout: string;
  stderr: string;
  upper: string;
  values: Record<string, string>;
}

/**
 * A bundle as a session's would be: the image's layers under a fresh upper, its mounts, proc,
 * dev and /tmp; run to completion by node-agent.
 */
function runInSandbox(dataDir: string, meta: ImageMeta, script: string, user: { uid: number; gid: number }, env: string[]): SandboxRun {
  const dir = temp('sk-builtin-bundle-');
  chmodSync(dir, 0o755);
  for (const d of ['upper', 'work', 'merged']) mkdirSync(join(dir, d), { mode: 0o755 });
  chmodSync(join(dir, 'upper'), 0o755);
  const config = {
    ociVersion: '1.0.2',
    process: {
      terminal: false, user, args: ['/bin/bash', '-lc', script], env, cwd: meta.config.workingDir ?? '/',
      capabilities: { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] }, noNewPrivileges: true,
    },
    root: { path: 'merged' },
    hostname: 'sandbox',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', 'size=65536k'] },
      ...builtinImageMounts(meta),
    ],
    annotations: {
      'sandkasten.dev/overlay.lowerdirs': layerPaths(dataDir, meta).join(':'),
      'sandkasten.dev/overlay.upperdir': join(dir, 'upper'),
      'sandkasten.dev/overlay.workdir': join(dir, 'work'),
    },
    linux: { namespaces: ['pid', 'network', 'ipc', 'uts', 'mount', 'cgroup'].map((type) => ({ type })) },
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const stateRoot = join('/run', `sk-builtin-test-${process.pid}-${randomBytes(3).toString('hex')}`);
  const id = `builtin-${randomBytes(4).toString('hex')}`;
  try {
    const r = spawnSync(BUNDLED_NODE_AGENT, ['--root', stateRoot, 'run', '--bundle', dir, id], { encoding: 'utf8', timeout: 30_000 });
    const values: Record<string, string> = {};
    for (const line of r.stdout.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) values[line.slice(0, eq)] = line.slice(eq + 1);
    }
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, upper: join(dir, 'upper'), values };
  } finally {
    spawnSync(BUNDLED_NODE_AGENT, ['--root', stateRoot, 'delete', '--force', id], { stdio: 'ignore' });
    rmSync(stateRoot, { recursive: true, force: true });
  }
}

const PROBE = `
echo "id=$(id)"
echo "home=$HOME"
echo "path=$PATH"
echo "pwd=$(pwd)"
echo "bash=$BASH_VERSION"
echo "python=$(python3 --version 2>&1)"
echo "node=$(${process.execPath} --version 2>&1)"
echo "shadow=$(test -e /etc/shadow && echo present || echo absent)"
echo "users=$(cut -d: -f1 /etc/passwd | paste -sd, -)"
echo "usr=$(touch /usr/sk-probe 2>&1 || true)"
echo "root_write=$(echo hi > /written-by-sandbox && echo ok)"
echo "workspace_write=$(echo hi > /workspace/w && echo ok)"
echo "etc_write=$({ echo x >> /etc/passwd; } 2>&1 && echo ok || true)"
echo "awk=$(awk 'BEGIN { print 6 * 7 }')"
echo "hostname=$(cat /etc/hostname)"
echo "lang=\${LANG:-}"
`;

describe('sandboxes from the built-in image (node-agent run)', { skip: !isRoot ? 'needs root' : !existsSync(BUNDLED_NODE_AGENT) ? 'node-agent is not built' : false }, () => {
  const dataDir = temp('sk-builtin-run-');
  const meta = prepareBuiltinImage(dataDir);
  const rootfs = join(dataDir, 'images/base/rootfs');

  it('as root: bash, host programs, generated users, read-only /usr, writes land in the upper layer', () => {
    const r = runInSandbox(dataDir, meta, PROBE, { uid: 0, gid: 0 }, [...(meta.config.env ?? []), 'HOME=/root']);
    assert.equal(r.status, 0, `${r.stderr}\n${r.stdout}`);
    const v = r.values;
    assert.match(v.id!, /^uid=0\(root\) gid=0\(root\)/);
    assert.equal(v.home, '/root');
    assert.equal(v.path, '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    assert.equal(v.pwd, '/workspace');
    assert.match(v.bash!, /^\d+\.\d+/);
    if (existsSync('/usr/bin/python3')) assert.match(v.python!, /^Python 3\.\d+/);
    if (process.execPath.startsWith('/usr/')) assert.equal(v.node, process.version);
    assert.equal(v.shadow, 'absent');
    assert.equal(v.users, 'root,sandbox,nobody');
    assert.match(v.usr!, /Read-only file system/);
    assert.equal(v.root_write, 'ok');
    assert.equal(v.awk, '42', 'awk through /etc/alternatives');
    assert.equal(v.hostname, 'sandbox');
    if (meta.config.env?.includes('LANG=C.UTF-8')) assert.equal(v.lang, 'C.UTF-8');
    // The write went to this sandbox's upper layer; the image and the host's /usr are untouched.
    assert.equal(readFileSync(join(r.upper, 'written-by-sandbox'), 'utf8'), 'hi\n');
    assert.ok(!existsSync(join(rootfs, 'written-by-sandbox')));
    assert.ok(!existsSync('/usr/sk-probe'));
    assert.equal(treeDigest(rootfs), meta.digest);
  });

  it('as the sandbox user: HOME from /etc/passwd, user PATH, its home and /workspace writable, /etc not', () => {
    const r = runInSandbox(dataDir, meta, PROBE, { uid: SANDBOX_UID, gid: SANDBOX_UID }, meta.config.env ?? []);
    assert.equal(r.status, 0, `${r.stderr}\n${r.stdout}`);
    const v = r.values;
    assert.match(v.id!, /^uid=1000\(sandbox\) gid=1000\(sandbox\)/);
    assert.equal(v.home, '/home/sandbox');
    assert.equal(v.path, '/usr/local/bin:/usr/bin:/bin');
    assert.equal(v.workspace_write, 'ok');
    assert.match(v.etc_write!, /Permission denied/);
    assert.equal(v.root_write, '', 'the sandbox user cannot write to /');
  });
});
