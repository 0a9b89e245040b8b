// `sandkasten doctor`: is this host ready to run sandboxes? Each check is ok, warn (works, with a
// caveat) or fail (something required is missing), with a hint saying how to fix it. Kernel
// facts come from `node-agent check`, the program that will depend on them.

import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, realpathSync, statfsSync, statSync } from 'node:fs';
import { release } from 'node:os';
import { isAbsolute } from 'node:path';
import type { ResolvedConfig } from '../config/index.js';
import { nodeAgentPath, runnerPath } from '../config/index.js';
import { checkOverlayPath } from '../images/index.js';
import { HOST_ELF_MACHINE, kernelVersion, mountOf, nearestExisting, nodeAgentCheck, readElf, type NodeAgentFacts } from './host.js';
import { probeOverlay } from './overlay-probe.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  /** Stable identifier ("cgroup.controllers"), for scripts reading --json. */
  id: string;
  status: CheckStatus;
  /** What was found. */
  detail: string;
  /** How to fix it (warn and fail only). */
  hint?: string;
}

export interface DoctorReport {
  /** No check failed. */
  ok: boolean;
  checks: CheckResult[];
  /** `node-agent check` as printed, when it ran. */
  host?: NodeAgentFacts;
}

export interface DoctorOptions {
  config: ResolvedConfig;
  /** Set when the config file could not be loaded (the checks then ran with defaults). */
  configError?: string;
  configFile?: string;
  /** Default: whether this process runs as root. */
  root?: boolean;
}

const RECOMMENDED_KERNEL: [number, number] = [5, 11];
const REQUIRED_CONTROLLERS = ['memory', 'cpu', 'pids'];
const NAMESPACES: [string, string][] = [['pid', 'pid'], ['mnt', 'mount'], ['net', 'net'], ['ipc', 'ipc'], ['uts', 'uts'], ['cgroup', 'cgroup']];
const MIN_FREE_BYTES = 100 << 20;
const LOW_FREE_BYTES = 1 << 30;

/** Filesystems that cannot hold an overlay upper layer. */
const BAD_FILESYSTEMS: Record<string, string> = {
  overlay: 'an overlay cannot be the upper layer of another overlay',
  aufs: 'an aufs cannot hold an overlay upper layer',
  ntfs: 'NTFS has no overlay support', ntfs3: 'NTFS has no overlay support', fuseblk: 'NTFS (ntfs-3g) has no overlay support',
  vfat: 'FAT has no overlay support', exfat: 'exFAT has no overlay support', msdos: 'FAT has no overlay support',
  '9p': '9p (WSL2 /mnt/*, VM shares) has no overlay support', drvfs: 'WSL drvfs has no overlay support',
  nfs: 'NFS cannot hold an overlay upper layer', nfs4: 'NFS cannot hold an overlay upper layer',
  cifs: 'SMB cannot hold an overlay upper layer', smb3: 'SMB cannot hold an overlay upper layer',
  vboxsf: 'VirtualBox shared folders have no overlay support', ecryptfs: 'eCryptfs cannot hold an overlay upper layer',
};
const GOOD_FILESYSTEMS = new Set(['ext4', 'ext3', 'xfs', 'btrfs', 'f2fs', 'bcachefs']);
const DATA_DIR_HINT = 'set data_dir to a directory on ext4, xfs or btrfs (e.g. /var/lib/sandkasten)';

const ok = (id: string, detail: string): CheckResult => ({ id, status: 'ok', detail });
const warn = (id: string, detail: string, hint: string): CheckResult => ({ id, status: 'warn', detail, hint });
const fail = (id: string, detail: string, hint: string): CheckResult => ({ id, status: 'fail', detail, hint });

function isExecutable(path: string): string | undefined {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : (e as Error).message;
  }
  if (!st.isFile()) return 'not a regular file';
  try {
    accessSync(path, constants.X_OK);
  } catch {
    return 'not executable';
  }
  return undefined;
}

function checkConfig(o: DoctorOptions): CheckResult {
  if (o.configError) return fail('config', o.configError, 'fix the config file (sandkasten init --config FILE writes a commented one)');
  return ok('config', o.configFile ? `${o.configFile} is valid` : 'no config file: defaults and SANDKASTEN_* variables');
}

function checkRoot(root: boolean): CheckResult {
  return root
    ? ok('root', 'running as root')
    : fail('root', `running as uid ${process.getuid?.() ?? '?'}`, 'the daemon needs root to create namespaces, cgroups and mounts: run it with sudo');
}

function checkNodeAgent(bin: string): { result: CheckResult; facts?: NodeAgentFacts } {
  const hint = `build it (make -C node-agent) or point node_agent_path (SANDKASTEN_NODE_AGENT_PATH) at it`;
  const bad = isExecutable(bin);
  if (bad) return { result: fail('node-agent', `${bin}: ${bad}`, hint) };
  const facts = nodeAgentCheck(bin);
  if (typeof facts === 'string') return { result: fail('node-agent', `${bin}: ${facts}`, hint) };
  return { result: ok('node-agent', bin), facts };
}

function checkRunner(bin: string): CheckResult {
  const hint = 'build it (make -C runner) or point runner_path (SANDKASTEN_RUNNER_PATH) at it';
  const bad = isExecutable(bin);
  if (bad) return fail('runner', `${bin}: ${bad}`, hint);
  const elf = readElf(bin);
  if (typeof elf === 'string') return fail('runner', `${bin}: ${elf}`, hint);
  // It runs inside images that may have no (or another) libc: it must need no loader.
  if (elf.dynamic) return fail('runner', `${bin} is dynamically linked`, 'the runner must be linked statically: rebuild it with make -C runner');
  if (HOST_ELF_MACHINE !== undefined && elf.machine !== HOST_ELF_MACHINE) return fail('runner', `${bin} is built for another architecture (ELF machine ${elf.machine})`, 'rebuild it on this host: make -C runner');
  return ok('runner', `${bin} (static)`);
}

function checkKernel(kernel: string): CheckResult {
  const v = kernelVersion(kernel);
  if (!v) return warn('kernel', `cannot read the version of ${kernel}`, `Linux ${RECOMMENDED_KERNEL.join('.')} or newer is recommended`);
  const recent = v[0] > RECOMMENDED_KERNEL[0] || (v[0] === RECOMMENDED_KERNEL[0] && v[1] >= RECOMMENDED_KERNEL[1]);
  return recent ? ok('kernel', `Linux ${kernel}`) : warn('kernel', `Linux ${kernel} is older than ${RECOMMENDED_KERNEL.join('.')}`, `upgrade to Linux ${RECOMMENDED_KERNEL.join('.')} or newer: older kernels are not tested`);
}

function checkSyscalls(f: NodeAgentFacts): CheckResult {
  const missing = (['pidfd', 'openat2', 'mountSetattr'] as const).filter((k) => !f[k]);
  const names = { pidfd: 'pidfd_open', openat2: 'openat2', mountSetattr: 'mount_setattr' };
  if (missing.length > 0) return fail('syscalls', `missing: ${missing.map((k) => names[k]).join(', ')}`, 'node-agent needs Linux 5.12 or newer (and no seccomp filter around the daemon blocking these)');
  return ok('syscalls', `pidfd_open, openat2, mount_setattr${f.clone3 ? ', clone3' : ''}`);
}

function checkCgroups(f: NodeAgentFacts): CheckResult[] {
  const c = f.cgroup;
  const out: CheckResult[] = [];
  if (c.mode === 'unknown') {
    out.push(fail('cgroup', c.error ?? 'no usable cgroup hierarchy', 'mount cgroup2 at /sys/fs/cgroup (or the v1 hierarchies), as systemd does'));
    return out;
  }
  out.push(ok('cgroup', c.mode === 'v2' ? 'v2 (unified)' : `v1${c.hybrid ? ' (hybrid)' : ''}`));
  const missing = REQUIRED_CONTROLLERS.filter((k) => !c.controllers.includes(k));
  out.push(
    missing.length === 0
      ? ok('cgroup.controllers', REQUIRED_CONTROLLERS.join(', '))
      : fail('cgroup.controllers', `missing: ${missing.join(', ')}`,
        c.mode === 'v2' ? `enable them in /sys/fs/cgroup/cgroup.subtree_control, or on the kernel command line (e.g. cgroup_enable=memory)` : `mount the v1 hierarchies for ${missing.join(', ')}, or enable them on the kernel command line (e.g. cgroup_enable=memory)`),
  );
  if (!c.favordynmods) {
    out.push(warn('cgroup.favordynmods', 'off: moving a sandbox into its cgroup can wait for an RCU grace period (milliseconds)',
      'for faster sandbox starts, remount the cgroup hierarchy with -o favordynmods (Linux 6.0+), or build the kernel with CONFIG_CGROUP_FAVOR_DYNMODS=y'));
  }
  return out;
}

function checkOverlayfs(f: NodeAgentFacts, kernel: string): CheckResult {
  if (f.overlayfs) return ok('overlayfs', 'available');
  // Not in /proc/filesystems until its module is loaded; the first mount loads it.
  if (existsSync(`/lib/modules/${kernel}/kernel/fs/overlayfs`)) return ok('overlayfs', 'available as a module (loaded on first use)');
  return fail('overlayfs', 'not available', 'load it (modprobe overlay) or use a kernel built with CONFIG_OVERLAY_FS');
}

function checkNamespaces(f: NodeAgentFacts | undefined): CheckResult[] {
  const missing = NAMESPACES.filter(([file]) => !existsSync(`/proc/self/ns/${file}`)).map(([, name]) => name);
  const out = [
    missing.length === 0
      ? ok('namespaces', NAMESPACES.map(([, n]) => n).join(', '))
      : fail('namespaces', `missing: ${missing.join(', ')}`, 'use a kernel built with CONFIG_NAMESPACES and the missing CONFIG_*_NS options'),
  ];
  // Sandboxes run without a user namespace by default; rootless and user-mapped sessions need one.
  if (f && !f.userNamespaces) out.push(warn('namespaces.user', 'user namespaces are disabled', 'optional; enable with sysctl user.max_user_namespaces=15000 for user-mapped sessions'));
  else if (existsSync('/proc/self/ns/user')) out.push(ok('namespaces.user', 'available'));
  return out;
}

function checkSeccomp(f: NodeAgentFacts, config: ResolvedConfig): CheckResult {
  if (f.seccomp) return ok('seccomp', `available (security.seccomp: ${config.security.seccomp})`);
  const hint = 'use a kernel built with CONFIG_SECCOMP and CONFIG_SECCOMP_FILTER';
  return config.security.seccomp === 'off'
    ? warn('seccomp', 'not available (security.seccomp is off)', hint)
    : fail('seccomp', `not available, but security.seccomp is ${config.security.seccomp}`, `${hint}, or set security.seccomp: off`);
}

/** xfs made with ftype=0 reports no file types in readdir (d_type), which overlayfs needs. */
function xfsWithoutDtype(mountPoint: string): boolean {
  const r = spawnSync('xfs_info', [mountPoint], { encoding: 'utf8', timeout: 5000 });
  return r.status === 0 && /\bftype=0\b/.test(r.stdout);
}

function checkDataDir(dataDir: string, root: boolean, overlay: boolean): CheckResult[] {
  const out: CheckResult[] = [];
  try {
    checkOverlayPath(dataDir, 'data_dir');
  } catch (e) {
    return [fail('data_dir', (e as Error).message, 'choose a data_dir without ":" "," or "\\"')];
  }
  if (!isAbsolute(dataDir)) return [fail('data_dir', `${dataDir} is not absolute`, DATA_DIR_HINT)];
  const exists = existsSync(dataDir);
  const probeAt = realpathSync(nearestExisting(dataDir, existsSync));
  if (!exists) out.push(warn('data_dir', `${dataDir} does not exist yet`, 'sandkasten init --config FILE creates it'));
  else {
    const s = statSync(dataDir);
    if (!s.isDirectory()) return [fail('data_dir', `${dataDir} is not a directory`, DATA_DIR_HINT)];
    if ((s.mode & 0o022) !== 0 || s.uid !== 0) out.push(warn('data_dir', `${dataDir} is ${s.uid !== 0 ? `owned by uid ${s.uid}` : `writable by others (mode ${(s.mode & 0o7777).toString(8)})`}`, `chown root:root ${dataDir} && chmod 0711 ${dataDir}`));
    else out.push(ok('data_dir', `${dataDir} (mode ${(s.mode & 0o7777).toString(8)})`));
  }
  const where = exists ? dataDir : `${probeAt} (where data_dir will be)`;
  const m = mountOf(probeAt);
  if (m) {
    const bad = BAD_FILESYSTEMS[m.fsType] ?? (m.fsType.startsWith('fuse.') ? 'FUSE filesystems cannot reliably hold an overlay upper layer' : undefined);
    if (bad) out.push(fail('data_dir.filesystem', `${where} is on ${m.fsType}: ${bad}`, DATA_DIR_HINT));
    else if (m.options.includes('ro')) out.push(fail('data_dir.filesystem', `${where} is on a read-only mount (${m.mountPoint})`, DATA_DIR_HINT));
    else if (m.fsType === 'tmpfs') out.push(warn('data_dir.filesystem', `${where} is on tmpfs`, `works, but workspaces and the database are lost at reboot: ${DATA_DIR_HINT}`));
    else if (m.options.includes('noexec')) out.push(warn('data_dir.filesystem', `${where} is on a noexec mount (${m.mountPoint})`, 'programs in workspaces cannot be run directly: remount without noexec or move data_dir'));
    else if (m.fsType === 'xfs' && xfsWithoutDtype(m.mountPoint)) out.push(fail('data_dir.filesystem', `${where} is on xfs without d_type (ftype=0)`, 'overlayfs needs d_type: move data_dir to a filesystem made with mkfs.xfs -n ftype=1 (the default since 2016), or ext4'));
    else if (GOOD_FILESYSTEMS.has(m.fsType) || m.fsType === 'zfs') out.push(ok('data_dir.filesystem', `${m.fsType} (${m.mountPoint})`));
    else out.push(warn('data_dir.filesystem', `${m.fsType} (${m.mountPoint}) is not a filesystem sandkasten is tested on`, DATA_DIR_HINT));
  }
  if (!root) out.push(warn('data_dir.overlay', 'not checked (needs root)', 'run sandkasten doctor as root'));
  else if (!overlay) out.push(warn('data_dir.overlay', 'not checked (no overlayfs)', 'see the overlayfs check'));
  else {
    const err = probeOverlay(probeAt);
    out.push(err === undefined
      ? ok('data_dir.overlay', `an overlay with its upper layer in ${probeAt} works (files, whiteouts, opaque directories)`)
      : fail('data_dir.overlay', `an overlay with its upper layer in ${probeAt} failed: ${err}`, `${DATA_DIR_HINT}; dmesg may say more`));
  }
  try {
    const fs = statfsSync(probeAt);
    const free = fs.bavail * fs.bsize;
    const gib = (free / 2 ** 30).toFixed(1);
    if (free < MIN_FREE_BYTES) out.push(fail('data_dir.space', `${gib} GiB free`, 'free some space: sessions need room for their writable layers'));
    else if (free < LOW_FREE_BYTES) out.push(warn('data_dir.space', `${gib} GiB free`, 'less than 1 GiB: images and session layers will soon fill it'));
    else out.push(ok('data_dir.space', `${gib} GiB free`));
  } catch (e) {
    out.push(warn('data_dir.space', `cannot tell: ${(e as Error).message}`, 'check the free space of data_dir yourself'));
  }
  return out;
}

/** Runs every check; never throws for a host problem (each becomes a failed check). */
export function runDoctor(o: DoctorOptions): DoctorReport {
  const root = o.root ?? process.getuid?.() === 0;
  const checks: CheckResult[] = [checkConfig(o), checkRoot(root)];
  const agent = checkNodeAgent(nodeAgentPath(o.config));
  checks.push(agent.result, checkRunner(runnerPath(o.config)));
  const f = agent.facts;
  const kernel = f?.kernel ?? release();
  checks.push(checkKernel(kernel));
  const overlay = f && checkOverlayfs(f, kernel);
  if (f && overlay) checks.push(checkSyscalls(f), ...checkCgroups(f), overlay);
  else {
    for (const id of ['syscalls', 'cgroup', 'overlayfs']) checks.push(warn(id, 'not checked: node-agent is not available', 'see the node-agent check'));
  }
  checks.push(...checkNamespaces(f));
  checks.push(f ? checkSeccomp(f, o.config) : warn('seccomp', 'not checked: node-agent is not available', 'see the node-agent check'));
  // Without node-agent's word on overlayfs, the probe finds out.
  checks.push(...checkDataDir(o.config.data_dir, root, overlay ? overlay.status === 'ok' : true));
  const report: DoctorReport = { ok: checks.every((c) => c.status !== 'fail'), checks };
  if (f) report.host = f;
  return report;
}
