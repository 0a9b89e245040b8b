// Test helpers for anything that runs real sandboxes: a busybox + bash rootfs, OCI bundles with
// secure defaults (what the controller will generate, and what runc/crun also accept), and
// runners for node-agent and crun. Needs root; every helper cleans up what it made.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync,
  rmdirSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
export const nodeAgentBin = join(repoRoot, 'node-agent/build/node-agent');
export const isRoot = process.getuid?.() === 0;

/** Builds node-agent (serialised with other test files building it at the same time). */
export function buildNodeAgent(): void {
  const r = spawnSync('flock', ['/tmp/sandkasten-node-agent-make.lock', 'make', '-s', '-C', 'node-agent'], { cwd: repoRoot, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`make -C node-agent failed:\n${r.stdout}${r.stderr}`);
}

/** A short random suffix for ids, paths and cgroups, so parallel test files never collide. */
export function uniqueId(prefix = 't'): string {
  return `${prefix}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

// ---- rootfs --------------------------------------------------------------------------------

const BUSYBOX = '/bin/busybox';
const BASH = '/bin/bash-static';

/**
 * A minimal root filesystem: busybox (static) with a symlink per applet in /bin, bash (static)
 * as /bin/bash, and the usual top-level directories. Returns the directory.
 */
export function makeRootfs(dir?: string): string {
  const root = dir ?? mkdtempSync(join(tmpdir(), 'sk-rootfs-'));
  mkdirSync(root, { recursive: true });
  chmodSync(root, 0o755); // mkdtemp makes 0700: the sandbox's root must be enterable by any user
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'dev', 'proc', 'sys', 'tmp', 'etc', 'root', 'home', 'run', 'var/tmp', 'workspace']) {
    mkdirSync(join(root, d), { recursive: true });
  }
  chmodSync(join(root, 'tmp'), 0o1777);
  copyFileSync(BUSYBOX, join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  copyFileSync(BASH, join(root, 'bin/bash'));
  chmodSync(join(root, 'bin/bash'), 0o755);
  const applets = spawnSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).stdout.split('\n').filter((a) => a && a !== 'busybox' && a !== 'bash');
  for (const a of applets) {
    const p = join(root, 'bin', a);
    if (!existsSync(p)) symlinkSync('busybox', p);
  }
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/:/bin/sh\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n');
  writeFileSync(join(root, 'etc/hostname'), 'sandbox\n');
  return root;
}

/** Compiles syscall-probe.c (static) into rootfs/bin/syscall-probe. */
export function installSyscallProbe(rootfs: string): void {
  const r = spawnSync('gcc', ['-static', '-O2', '-o', join(rootfs, 'bin/syscall-probe'), join(repoRoot, 'test/src/lib/syscall-probe.c')], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`building syscall-probe failed:\n${r.stderr}`);
}

// ---- config.json ---------------------------------------------------------------------------

export interface OciMount { destination: string; type?: string; source?: string; options?: string[] }
export interface OciConfig {
  ociVersion: string;
  process: {
    terminal?: boolean;
    user: { uid: number; gid: number; additionalGids?: number[]; umask?: number };
    args: string[];
    env: string[];
    cwd: string;
    capabilities?: Partial<Record<'bounding' | 'effective' | 'inheritable' | 'permitted' | 'ambient', string[]>>;
    rlimits?: { type: string; soft: number; hard: number }[];
    noNewPrivileges?: boolean;
    oomScoreAdj?: number;
    [k: string]: unknown;
  };
  root: { path: string; readonly?: boolean };
  hostname?: string;
  mounts: OciMount[];
  annotations?: Record<string, string>;
  linux: {
    namespaces: { type: string; path?: string }[];
    uidMappings?: { containerID: number; hostID: number; size: number }[];
    gidMappings?: { containerID: number; hostID: number; size: number }[];
    resources?: Record<string, unknown>;
    cgroupsPath?: string;
    seccomp?: SeccompProfile;
    maskedPaths?: string[];
    readonlyPaths?: string[];
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export interface SeccompRule { names: string[]; action: string; errnoRet?: number; args?: { index: number; value: number; valueTwo?: number; op: string }[] }
export interface SeccompProfile { defaultAction: string; defaultErrnoRet?: number; architectures: string[]; syscalls: SeccompRule[] }

/** Syscalls a sandbox never needs and that widen the kernel's attack surface (after Docker's default profile). */
export const DENIED_SYSCALLS = [
  'mount', 'umount2', 'pivot_root', 'chroot', 'unshare', 'setns', 'ptrace', 'process_vm_readv', 'process_vm_writev', 'kcmp',
  'bpf', 'perf_event_open', 'userfaultfd', 'keyctl', 'add_key', 'request_key', 'kexec_load', 'kexec_file_load', 'init_module',
  'finit_module', 'delete_module', 'create_module', 'reboot', 'swapon', 'swapoff', 'acct', 'settimeofday', 'clock_settime',
  'clock_adjtime', 'adjtimex', 'open_by_handle_at', 'name_to_handle_at', 'lookup_dcookie', 'quotactl', 'quotactl_fd', 'fsopen',
  'fsconfig', 'fsmount', 'fspick', 'move_mount', 'open_tree', 'mount_setattr', 'iopl', 'ioperm', 'syslog', 'vhangup',
  'nfsservctl', 'uselib', 'get_kernel_syms', 'query_module', 'io_uring_setup', 'io_uring_enter', 'io_uring_register',
];

const NAMESPACE_FLAGS = [0x00020000 /* NEWNS */, 0x02000000 /* NEWCGROUP */, 0x04000000 /* NEWUTS */, 0x08000000 /* NEWIPC */,
  0x10000000 /* NEWUSER */, 0x20000000 /* NEWPID */, 0x40000000 /* NEWNET */];

/** Default-allow with a deny list returning EPERM; clone with namespace flags is denied and
 *  clone3 answers ENOSYS (its flags cannot be inspected), so libc falls back to clone. */
export function defaultSeccomp(): SeccompProfile {
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls: [
      { names: DENIED_SYSCALLS, action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
      ...NAMESPACE_FLAGS.map((f) => ({ names: ['clone'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 0, value: f, valueTwo: f, op: 'SCMP_CMP_MASKED_EQ' }] })),
    ],
  };
}

export const DEFAULT_MASKED_PATHS = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats',
  '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];
export const DEFAULT_READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
export const DEFAULT_ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root', 'TERM=dumb'];

export interface BundleOptions {
  args?: string[];
  env?: string[];
  cwd?: string;
  hostname?: string;
  /** An existing rootfs to use (as root.path, or as the overlay's lower layer); default: a new one. */
  rootfs?: string;
  readonlyRoot?: boolean;
  /** Mount an overlay of the rootfs (lower) with a fresh upper/work in the bundle as the root. */
  overlay?: boolean;
  user?: { uid: number; gid: number; additionalGids?: number[] };
  /** Capability names for every set; default none. */
  capabilities?: string[];
  seccomp?: SeccompProfile | false;
  resources?: Record<string, unknown>;
  cgroupsPath?: string;
  /** Mount the container's cgroup at /sys/fs/cgroup (read-only); off by default because it is slow on v1. */
  cgroupMount?: boolean;
  extraMounts?: OciMount[];
  annotations?: Record<string, string>;
}

/** The config a bundle gets: runc's defaults hardened (no capabilities, no_new_privs, seccomp). */
export function defaultConfig(opts: BundleOptions = {}): OciConfig {
  const caps = opts.capabilities ?? [];
  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', 'size=65536k'] },
  ];
  if (opts.cgroupMount) mounts.push({ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] });
  mounts.push(...(opts.extraMounts ?? []));
  const cfg: OciConfig = {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: opts.user ?? { uid: 0, gid: 0 },
      args: opts.args ?? ['/bin/sh', '-c', 'echo hello'],
      env: opts.env ?? DEFAULT_ENV,
      cwd: opts.cwd ?? '/',
      capabilities: { bounding: caps, effective: caps, inheritable: [], permitted: caps, ambient: [] },
      rlimits: [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: opts.readonlyRoot ?? false },
    hostname: opts.hostname ?? 'sandbox',
    mounts,
    linux: {
      namespaces: ['pid', 'network', 'ipc', 'uts', 'mount', 'cgroup'].map((type) => ({ type })),
      maskedPaths: DEFAULT_MASKED_PATHS,
      readonlyPaths: DEFAULT_READONLY_PATHS,
    },
  };
  if (opts.seccomp !== false) cfg.linux.seccomp = opts.seccomp ?? defaultSeccomp();
  if (opts.resources) cfg.linux.resources = opts.resources;
  if (opts.cgroupsPath) cfg.linux.cgroupsPath = opts.cgroupsPath;
  if (opts.annotations) cfg.annotations = { ...opts.annotations };
  return cfg;
}

export interface Bundle {
  dir: string;
  /** The rootfs as seen from the host: the lower layer for an overlay bundle. */
  rootfs: string;
  /** For overlay bundles: the writable upper layer. */
  upperdir?: string;
  config: OciConfig;
  /** Writes `config` (after you changed it) to config.json. */
  write(): void;
  /** Removes the bundle directory (and the rootfs if the bundle made it). */
  cleanup(): void;
}

/** A bundle directory with config.json (and a rootfs unless one is passed in). */
export function makeBundle(opts: BundleOptions = {}): Bundle {
  const dir = mkdtempSync(join(tmpdir(), 'sk-bundle-'));
  chmodSync(dir, 0o755); // a sandbox in a user namespace is not host root: it must reach its rootfs
  const ownRootfs = opts.rootfs === undefined;
  const rootfs = opts.rootfs ?? makeRootfs(join(dir, 'rootfs'));
  const config = defaultConfig(opts);
  let upperdir: string | undefined;
  if (opts.overlay) {
    upperdir = join(dir, 'upper');
    mkdirSync(upperdir);
    mkdirSync(join(dir, 'work'));
    mkdirSync(join(dir, 'merged'));
    config.root.path = 'merged';
    config.annotations = {
      ...config.annotations,
      'sandkasten.dev/overlay.lowerdirs': rootfs,
      'sandkasten.dev/overlay.upperdir': upperdir,
      'sandkasten.dev/overlay.workdir': join(dir, 'work'),
    };
  } else if (!ownRootfs) {
    config.root.path = rootfs;
  }
  const b: Bundle = {
    dir,
    rootfs,
    config,
    write: () => writeFileSync(join(dir, 'config.json'), JSON.stringify(b.config, null, 2)),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
  if (upperdir) b.upperdir = upperdir;
  b.write();
  return b;
}

// ---- running node-agent and crun -------------------------------------------------------------

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** State root (--root); default the helper's per-process root. */
  root?: string;
  /** --log-format json */
  json?: boolean;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

let defaultRoot: string | undefined;
/** A state root private to this test process (under /run, like the real one). */
export function testStateRoot(): string {
  defaultRoot ??= join('/run/sandkasten-test', `${process.pid}-${randomBytes(3).toString('hex')}`);
  return defaultRoot;
}

/**
 * Output goes to temporary files, not pipes: a created container inherits node-agent's stdio
 * (as with runc), and a pipe would keep the call open until the container exits.
 */
function withOutputFiles<T>(fn: (out: number, err: number) => T, finish: (r: T, read: () => { stdout: string; stderr: string }) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'sk-out-'));
  const outPath = join(dir, 'stdout');
  const errPath = join(dir, 'stderr');
  const out = openSync(outPath, 'w+');
  const err = openSync(errPath, 'w+');
  const r = fn(out, err);
  finish(r, () => {
    closeSync(out);
    closeSync(err);
    const res = { stdout: readFileSync(outPath, 'utf8'), stderr: readFileSync(errPath, 'utf8') };
    rmSync(dir, { recursive: true, force: true });
    return res;
  });
}

function agentArgs(args: string[], o: RunOptions): string[] {
  return ['--root', o.root ?? testStateRoot(), ...(o.json ? ['--log-format', 'json'] : []), ...args];
}

/** Runs `node-agent [--root R] [--log-format json] ARGS…` to completion. */
export function nodeAgent(args: string[], o: RunOptions = {}): RunResult {
  let result!: RunResult;
  withOutputFiles(
    (out, err) => spawnSync(nodeAgentBin, agentArgs(args, o), { stdio: ['ignore', out, err], timeout: o.timeoutMs ?? 30_000, env: o.env ?? process.env }),
    (r, read) => {
      if (r.error) throw r.error;
      result = { status: r.status, signal: r.signal, ...read() };
    },
  );
  return result;
}

/** Like nodeAgent, without blocking the event loop (for long-running containers). */
export function nodeAgentAsync(args: string[], o: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    withOutputFiles(
      (out, err) => spawn(nodeAgentBin, agentArgs(args, o), { stdio: ['ignore', out, err], env: o.env ?? process.env }),
      (child, read) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 30_000);
        child.once('error', (e) => { clearTimeout(timer); read(); reject(e); });
        child.once('exit', (status, signal) => { clearTimeout(timer); resolve({ status, signal, ...read() }); });
      },
    );
  });
}

/** Runs node-agent and throws with its stderr unless it exited 0. */
export function nodeAgentOk(args: string[], o: RunOptions = {}): RunResult {
  const r = nodeAgent(args, o);
  if (r.status !== 0) throw new Error(`node-agent ${args.join(' ')} exited ${r.status ?? r.signal}:\n${r.stderr}${r.stdout}`);
  return r;
}

export interface ErrorLine { level: string; msg: string; errno: number }
/** Parses stderr of a --log-format json failure; it must be exactly one JSON line. */
export function errorLine(stderr: string): ErrorLine {
  const lines = stderr.split('\n').filter((l) => l !== '');
  if (lines.length !== 1) throw new Error(`expected exactly one stderr line, got ${lines.length}:\n${stderr}`);
  return JSON.parse(lines[0]!) as ErrorLine;
}

export interface ContainerState { ociVersion: string; id: string; status: string; pid: number; bundle: string; annotations?: Record<string, string> }
export function containerState(id: string, o: RunOptions = {}): ContainerState {
  return JSON.parse(nodeAgentOk(['state', id], o).stdout) as ContainerState;
}

/** Deletes (forcefully) every container under the root, then the root itself. */
export function cleanupStateRoot(root: string = testStateRoot()): void {
  if (!existsSync(root)) return;
  for (const id of readdirSync(root)) nodeAgent(['delete', '--force', id], { root });
  try {
    rmdirSync(root);
    rmdirSync(join(root, '..')); // the shared parent, once no test process uses it
  } catch { /* not empty: leave it */ }
}

export const crunBin = ['/usr/bin/crun', '/usr/local/bin/crun'].find((p) => existsSync(p));

/**
 * crun with the same bundle. On a hybrid cgroup host crun insists on the unified hierarchy
 * holding controllers, so it runs in a private mount namespace without /sys/fs/cgroup/unified.
 */
export function crun(args: string[], root: string, timeoutMs = 30_000): RunResult {
  if (!crunBin) throw new Error('crun is not installed');
  const script = 'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$@"';
  let result!: RunResult;
  withOutputFiles(
    (out, err) => spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', crunBin, '--root', root, '--cgroup-manager=cgroupfs', ...args],
      { stdio: ['ignore', out, err], timeout: timeoutMs }),
    (r, read) => {
      if (r.error) throw r.error;
      result = { status: r.status, signal: r.signal, ...read() };
    },
  );
  return result;
}

/** Removes a cgroup directory tree in every mounted hierarchy (v1 and v2), deepest first. */
export function removeCgroupTree(relPath: string): void {
  for (const h of readdirSync('/sys/fs/cgroup')) {
    const top = join('/sys/fs/cgroup', h, relPath);
    if (!existsSync(top)) continue;
    const dirs: string[] = [];
    const walk = (d: string): void => {
      dirs.push(d);
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
    };
    walk(top);
    for (const d of dirs.reverse()) {
      try { rmdirSync(d); } catch { /* busy: the caller's assertion will show it */ }
    }
  }
}

/** Directories below relPath in every cgroup hierarchy (to compare before/after). */
export function listCgroupTree(relPath: string): string[] {
  const out: string[] = [];
  for (const h of readdirSync('/sys/fs/cgroup')) {
    const top = join('/sys/fs/cgroup', h, relPath);
    if (!existsSync(top)) continue;
    const walk = (d: string, rel: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (!e.isDirectory()) continue;
        out.push(`${h}/${relPath}/${rel}${e.name}`);
        walk(join(d, e.name), `${rel}${e.name}/`);
      }
    };
    walk(top, '');
  }
  return out.sort();
}

/** Host mount table entries (mount point + fs type), comparable across time. */
export function hostMounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean).map((l) => {
    const f = l.split(' ');
    const sep = f.indexOf('-');
    return `${f[4]} ${f[sep + 1]}`;
  }).sort();
}

/** Live (non-zombie) processes whose command line contains marker. */
export function processesWith(marker: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state !== 'Z' && cmd.includes(marker)) pids.push(Number(e));
    } catch { /* gone meanwhile */ }
  }
  return pids;
}

/** Waits until cond() is true (polling), or throws after timeoutMs. */
export async function waitFor(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
