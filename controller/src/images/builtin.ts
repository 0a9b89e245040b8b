// The built-in image `base` (source builtin://host): works offline, downloads nothing. Its one
// layer is a skeleton root — the top-level directories, mount points and a generated /etc — and
// the host's /usr (plus /bin, /lib… where they are real directories) is bind-mounted read-only,
// so sandboxes run the host's own programs and libraries.
//
// /etc copies nothing that identifies or authenticates the host: users and groups are generated
// (root, sandbox, nobody), as are hostname, hosts, resolv.conf and nsswitch.conf; from the host
// come only files programs need to find their libraries and data (ld.so.cache, alternatives
// links, CA certificates, os-release, …), from an allow-list, and of those only world-readable ones.

import { randomBytes } from 'node:crypto';
import {
  chmodSync, copyFileSync, existsSync, lchownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, renameSync,
  rmSync, statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { checkOverlayPath, imageDir, readImageMeta, writeImageMeta, type ImageConfig, type ImageMeta, type ImageMount } from './meta.js';
import { syncTree, treeDigest } from './tree.js';

export const BUILTIN_IMAGE = 'base';
export const BUILTIN_SOURCE = 'builtin://host';
/** The unprivileged user every image offers: uid and gid 1000, home /home/sandbox. */
export const SANDBOX_UID = 1000;
export const SANDBOX_GID = 1000;

const ROOT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const USER_PATH = '/usr/local/bin:/usr/bin:/bin';
/** Bind mounts from the host: read-only, and no setuid programs or device nodes through them. */
const HOST_BIND_OPTIONS = ['rbind', 'ro', 'nosuid', 'nodev'];
/** Top-level directories that merged-/usr hosts make symlinks into /usr, and others keep apart. */
const TOP_LEVEL_LIBDIRS = ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32'];
/** Larger host files are not copied (ld.so.cache and the CA bundle are well below). */
const MAX_COPY_BYTES = 16 << 20;

/**
 * What /etc may take from the host. Directories are copied recursively; `linksOnly` copies only
 * their symlinks (the alternatives system is links into /usr).
 */
const HOST_ETC: { path: string; linksOnly?: boolean }[] = [
  { path: 'os-release' }, { path: 'debian_version' }, { path: 'lsb-release' }, { path: 'redhat-release' }, { path: 'system-release' },
  { path: 'ld.so.cache' }, { path: 'ld.so.conf' }, { path: 'ld.so.conf.d' },
  { path: 'alternatives', linksOnly: true },
  { path: 'ssl/certs' }, { path: 'ssl/openssl.cnf' }, { path: 'pki/tls/certs' }, { path: 'pki/ca-trust/extracted' },
  { path: 'localtime' }, { path: 'timezone' },
  { path: 'protocols' }, { path: 'services' }, { path: 'rpc' }, { path: 'ethertypes' }, { path: 'gai.conf' },
  { path: 'mime.types' }, { path: 'inputrc' },
];

export interface BuiltinImageOptions {
  /** The host filesystem to build from; default "/" (tests point it at a fake host). */
  hostRoot?: string;
  /** Image name; default "base". */
  name?: string;
}

export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

/**
 * Builds (or brings up to date) images/<name>/rootfs and meta.json, and returns the meta.
 * Idempotent: when the generated tree equals the one on disk nothing is written. When the host
 * changed (a package upgrade brought a new ld.so.cache), only changed entries are replaced, each
 * by one rename: running sandboxes see the host's /usr live anyway, and now the matching /etc.
 */
export function prepareBuiltinImage(dataDir: string, opts: BuiltinImageOptions = {}): ImageMeta {
  const host = opts.hostRoot ?? '/';
  const name = opts.name ?? BUILTIN_IMAGE;
  const dir = imageDir(dataDir, name);
  const rootfs = join(dir, 'rootfs');
  checkOverlayPath(rootfs, 'image rootfs');
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  removeStaleTemps(dir);
  const tmp = mkdtempSync(join(dir, TMP_PREFIX));
  try {
    const { mounts, config } = buildSkeleton(tmp, host);
    const digest = treeDigest(tmp);
    let existing: ImageMeta | undefined;
    try {
      existing = readImageMeta(dataDir, name);
    } catch {
      existing = undefined; // unreadable: rewritten below
    }
    let changed = false;
    if (!existsSync(rootfs)) {
      try {
        renameSync(tmp, rootfs);
        changed = true;
      } catch (e) {
        // Another preparer won the race: bring its tree in line like any existing one.
        if (!['EEXIST', 'ENOTEMPTY'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
      }
    }
    if (!changed && (existing?.digest !== digest || treeDigest(rootfs) !== digest)) {
      syncTree(tmp, rootfs);
      changed = true;
    }
    const meta: ImageMeta = {
      schemaVersion: 1,
      name,
      source: BUILTIN_SOURCE,
      digest,
      layers: [`images/${name}/rootfs`],
      mounts,
      config,
      updatedAt: !changed && existing?.updatedAt ? existing.updatedAt : new Date().toISOString(),
    };
    if (!existing || JSON.stringify({ ...existing, updatedAt: '' }) !== JSON.stringify({ ...meta, updatedAt: '' })) writeImageMeta(dataDir, meta);
    return meta;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const TMP_PREFIX = '.rootfs-';
/** Older than this, a temp tree is a crashed run's, not one being built right now. */
const STALE_TMP_MS = 10 * 60 * 1000;

function removeStaleTemps(dir: string): void {
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(TMP_PREFIX)) continue;
    const st = lstatOrUndefined(join(dir, name));
    if (st && Date.now() - st.mtimeMs > STALE_TMP_MS) rmSync(join(dir, name), { recursive: true, force: true });
  }
}

/** The image's extra mounts as OCI runtime-spec mounts, for the session's config.json. */
export function builtinImageMounts(meta: ImageMeta): OciMount[] {
  return meta.mounts.map((m) => ({ destination: m.destination, type: 'bind', source: m.source, options: [...m.options] }));
}

// ---- the skeleton ----------------------------------------------------------------------------

const isRoot = process.getuid?.() === 0;

function mkdir(root: string, rel: string, mode: number, uid = 0, gid = 0): void {
  const p = join(root, rel);
  ensureDir(p);
  chmodSync(p, mode); // not through mkdir's mode: the umask would take bits away
  if (isRoot) lchownSync(p, uid, gid);
}

/** mkdir -p with every directory it makes at 0755, whatever the umask. */
function ensureDir(p: string): void {
  if (existsSync(p)) return;
  ensureDir(dirname(p));
  mkdirSync(p);
  chmodSync(p, 0o755);
}

function write(root: string, rel: string, text: string, mode = 0o644): void {
  const p = join(root, rel);
  writeFileSync(p, text);
  chmodSync(p, mode);
}

function lstatOrUndefined(p: string) {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

function buildSkeleton(root: string, host: string): { mounts: ImageMount[]; config: ImageConfig } {
  chmodSync(root, 0o755);
  const mounts: ImageMount[] = [{ destination: '/usr', source: join(host, 'usr'), options: HOST_BIND_OPTIONS }];
  if (!statSync(join(host, 'usr')).isDirectory()) throw new Error(`${join(host, 'usr')} is not a directory`);
  mkdir(root, 'usr', 0o755);
  // As the host has them: a symlink into /usr is replicated, a real directory is bind-mounted.
  for (const d of TOP_LEVEL_LIBDIRS) {
    const st = lstatOrUndefined(join(host, d));
    if (st?.isSymbolicLink()) symlinkSync(readlinkSync(join(host, d)), join(root, d));
    else if (st?.isDirectory()) {
      mkdir(root, d, 0o755);
      mounts.push({ destination: `/${d}`, source: join(host, d), options: HOST_BIND_OPTIONS });
    }
  }
  for (const [d, mode] of [
    ['dev', 0o755], ['proc', 0o555], ['sys', 0o555], ['tmp', 0o1777], ['run', 0o755], ['run/lock', 0o1777], ['etc', 0o755],
    ['etc/profile.d', 0o755], ['home', 0o755], ['root', 0o700], ['var', 0o755], ['var/tmp', 0o1777], ['var/lib', 0o755],
    ['var/cache', 0o755], ['var/log', 0o755], ['opt', 0o755], ['mnt', 0o755], ['srv', 0o755], ['media', 0o755],
  ] as const) {
    mkdir(root, d, mode);
  }
  // Owned by the sandbox user, so a session running as it can write where it is meant to.
  mkdir(root, 'home/sandbox', 0o755, SANDBOX_UID, SANDBOX_GID);
  mkdir(root, 'workspace', 0o755, SANDBOX_UID, SANDBOX_GID);
  symlinkSync('../run', join(root, 'var/run'));
  symlinkSync('../run/lock', join(root, 'var/lock'));
  symlinkSync('../proc/self/mounts', join(root, 'etc/mtab'));
  const shell = ['usr/bin/bash', 'bin/bash'].some((p) => existsSync(join(host, p))) ? '/bin/bash' : '/bin/sh';
  writeEtc(root, shell);
  for (const e of HOST_ETC) copyFromHost(join(host, 'etc', e.path), join(root, 'etc', e.path), e.linksOnly ?? false);
  const env = [`PATH=${ROOT_PATH}`];
  // C.UTF-8 only where the host's libc has it; otherwise every program would warn about LANG.
  if (['usr/lib/locale/C.utf8', 'usr/lib/locale/C.UTF-8'].some((p) => existsSync(join(host, p)))) env.push('LANG=C.UTF-8');
  return { mounts, config: { env, workingDir: '/workspace', user: 'root' } };
}

function writeEtc(root: string, shell: string): void {
  write(root, 'etc/passwd', [
    `root:x:0:0:root:/root:${shell}`,
    `sandbox:x:${SANDBOX_UID}:${SANDBOX_GID}:sandbox:/home/sandbox:${shell}`,
    'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
    '',
  ].join('\n'));
  // tty (5) is the group devpts gives terminals.
  write(root, 'etc/group', ['root:x:0:', 'tty:x:5:', 'users:x:100:', `sandbox:x:${SANDBOX_GID}:`, 'nogroup:x:65534:', ''].join('\n'));
  write(root, 'etc/hostname', 'sandbox\n');
  write(root, 'etc/hosts', '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n');
  write(root, 'etc/resolv.conf', '# No name servers: sandboxes have no network unless their session asks for one.\n');
  write(root, 'etc/nsswitch.conf', [
    'passwd:    files', 'group:     files', 'shadow:    files', 'hosts:     files dns', 'networks:  files',
    'protocols: files', 'services:  files', 'ethers:    files', 'rpc:       files', '',
  ].join('\n'));
  write(root, 'etc/shells', '/bin/sh\n/usr/bin/sh\n/bin/bash\n/usr/bin/bash\n');
  write(root, 'etc/profile', `# Login shells (the sandbox's shell is one). Generated by sandkasten.
# bash knows its EUID; only other shells pay for running id.
if [ "\${EUID:-$(id -u)}" -eq 0 ]; then
  PATH=${ROOT_PATH}
else
  PATH=${USER_PATH}
fi
export PATH
if [ -z "\${HOME:-}" ]; then
  HOME=$(getent passwd "$(id -u)" | cut -d: -f6)
  export HOME="\${HOME:-/}"
fi
PS1='$ '
if [ -n "\${BASH_VERSION:-}" ]; then
  PS1='\\u@\\h:\\w\\$ '
  [ -r /etc/bash.bashrc ] && . /etc/bash.bashrc
fi
for f in /etc/profile.d/*.sh; do
  [ -r "$f" ] && . "$f"
done
unset f
`);
  write(root, 'etc/bash.bashrc', `# Interactive bash shells. Generated by sandkasten.
[ -z "\${PS1:-}" ] && return
PS1='\\u@\\h:\\w\\$ '
shopt -s checkwinsize
`);
}

/**
 * Copies one allow-listed host path: a symlink as a symlink, a world-readable regular file with
 * its permission bits (setuid/setgid dropped), a directory recursively. Anything else is skipped.
 */
function copyFromHost(src: string, dst: string, linksOnly: boolean): void {
  const st = lstatOrUndefined(src);
  if (!st) return;
  if (st.isSymbolicLink()) {
    ensureDir(dirname(dst));
    symlinkSync(readlinkSync(src), dst);
  } else if (st.isDirectory()) {
    ensureDir(dst);
    chmodSync(dst, st.mode & 0o755);
    for (const name of readdirSync(src)) copyFromHost(join(src, name), join(dst, name), linksOnly);
  } else if (st.isFile() && !linksOnly && (st.mode & 0o004) !== 0 && st.size <= MAX_COPY_BYTES) {
    ensureDir(dirname(dst));
    // Through a temp name: copyFile follows a symlink planted at dst (none should be, but cheap).
    const tmp = `${dst}.${randomBytes(4).toString('hex')}`;
    copyFileSync(src, tmp);
    chmodSync(tmp, st.mode & 0o755);
    renameSync(tmp, dst);
  }
}
