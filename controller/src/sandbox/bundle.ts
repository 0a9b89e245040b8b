// A Session as an OCI runtime-spec bundle for node-agent: the image's layers under the session's
// own overlay upper layer, the runner bind-mounted read-only as PID 1, its socket directory and the
// workspace bind-mounted from the host, limits from the spec or the daemon's defaults, every
// namespace but user, no capabilities beyond owning its files, no_new_privs and a seccomp filter.
//
// buildBundle is pure (it reads the image's /etc/passwd only to resolve a user name); what it
// cannot honour it refuses with a BundleError whose reason and message go into the Session's
// conditions.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_WORKSPACE_MOUNT_PATH, parseCpu, parseQuantity, sessionWorkspaceMount, type ResolvedConfig, type Session } from '@sandkasten/api-schemas';
import { builtinImageMounts, layerPaths, type ImageMeta } from '../images/index.js';
import { cgroupPath, SANDBOX_RUN_DIR, SANDBOX_RUNNER, SANDBOX_SOCKET, sessionPaths } from './paths.js';
import { seccompProfile, type SeccompProfile } from './seccomp-profiles.js';

export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface OciConfig {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: Record<'bounding' | 'effective' | 'inheritable' | 'permitted' | 'ambient', string[]>;
    rlimits: { type: string; soft: number; hard: number }[];
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: OciMount[];
  annotations: Record<string, string>;
  linux: {
    namespaces: { type: string }[];
    resources: OciResources;
    cgroupsPath: string;
    seccomp?: SeccompProfile;
    maskedPaths: string[];
    readonlyPaths: string[];
  };
}

export interface OciResources {
  memory?: { limit: number; swap?: number };
  cpu?: { quota: number; period: number };
  pids?: { limit: number };
}

/** The limits a session runs with, from its spec or the daemon's defaults. */
export interface SessionLimits {
  /** CPUs (0.5 = half a CPU). */
  cpu: number;
  memoryBytes: number;
  pids: number;
}

/**
 * What a running sandbox cannot change without being recreated, resolved from the spec and the
 * daemon's configuration only (not from the image's content). Recorded in the bundle and compared
 * field by field, to tell the user which spec change did not apply.
 */
export interface FixedSettings {
  image: string;
  /** name null: the session's own ephemeral workspace; the whole field null: none mounted. */
  workspace: { name: string | null; mountPath: string } | null;
  network: 'none' | 'host';
  seccomp: 'off' | 'mvp' | 'strict';
  env: { name: string; value: string }[];
  workingDir: string | null;
  hostname: string;
}

export interface BundleInput {
  dataDir: string;
  /** Needs metadata.uid, name, namespace, and spec. */
  session: Session;
  image: ImageMeta;
  config: ResolvedConfig;
  runnerPath: string;
  /** The host directory mounted as the workspace, when fixedSettings() says there is one. */
  workspaceSource?: string;
  /** Whether memory+swap can be limited on this host (swap accounting); default true. */
  swapLimit?: boolean;
}

export interface Bundle {
  config: OciConfig;
  limits: SessionLimits;
  fixed: FixedSettings;
}

/** A spec (or configuration) the sandbox cannot be made from; reason is a CamelCase condition reason. */
export class BundleError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'BundleError';
  }
}

/** Annotations that tie a container back to its Session (also seen by `node-agent state`); not under
 * sandkasten.dev/, which node-agent reserves for directives to itself. */
export const ANNOTATION_UID = 'session.sandkasten.dev/uid';
export const ANNOTATION_NAME = 'session.sandkasten.dev/name';
export const ANNOTATION_NAMESPACE = 'session.sandkasten.dev/namespace';
/** JSON of the FixedSettings the bundle was made with. */
export const ANNOTATION_FIXED = 'session.sandkasten.dev/fixed';

export const CPU_PERIOD_US = 100_000;

// runc's defaults.
const MASKED_PATHS = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats',
  '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Resolves the session's limits: spec.resources, else the daemon's defaults. */
export function sessionLimits(session: Session, config: ResolvedConfig): SessionLimits {
  const r = session.spec?.resources ?? {};
  let cpu: number;
  let memoryBytes: number;
  try {
    cpu = r.cpu !== undefined ? parseCpu(r.cpu) : config.defaults.cpu_limit;
  } catch (e) {
    throw new BundleError('InvalidResources', `spec.resources.cpu: ${(e as Error).message}`);
  }
  try {
    memoryBytes = r.memory !== undefined ? parseQuantity(r.memory) : config.defaults.mem_limit_mb * 1024 * 1024;
  } catch (e) {
    throw new BundleError('InvalidResources', `spec.resources.memory: ${(e as Error).message}`);
  }
  if (cpu <= 0) throw new BundleError('InvalidResources', 'spec.resources.cpu must be more than 0');
  if (memoryBytes < 4 * 1024 * 1024) throw new BundleError('InvalidResources', 'spec.resources.memory must be at least 4Mi');
  return { cpu, memoryBytes, pids: r.pids ?? config.defaults.pids_limit };
}

/** The limits as OCI linux.resources (memory+swap = memory: no swap). */
export function ociResources(l: SessionLimits, swapLimit = true): OciResources {
  return {
    memory: swapLimit ? { limit: l.memoryBytes, swap: l.memoryBytes } : { limit: l.memoryBytes },
    cpu: { quota: Math.max(1000, Math.round(l.cpu * CPU_PERIOD_US)), period: CPU_PERIOD_US },
    pids: { limit: l.pids },
  };
}

function seccompOf(session: Session, config: ResolvedConfig): FixedSettings['seccomp'] {
  const want = session.spec?.securityProfile?.seccomp ?? 'default';
  const configured = config.security.seccomp;
  if (want === 'strict') return 'strict';
  if (want === 'unconfined') {
    if (configured !== 'off') {
      throw new BundleError(
        'SeccompRefused',
        `securityProfile.seccomp "unconfined" is refused: the daemon's security.seccomp is "${configured}" (set it to "off" to allow sessions without a filter)`,
      );
    }
    return 'off';
  }
  return configured;
}

function networkOf(session: Session, config: ResolvedConfig): FixedSettings['network'] {
  const mode = session.spec?.network?.mode ?? config.defaults.network_mode;
  if (mode === 'bridge') {
    const from = session.spec?.network?.mode ? 'spec.network.mode' : 'the daemon default defaults.network_mode';
    throw new BundleError('NetworkUnsupported', `bridge networking is not supported yet (${from} is "bridge"): use "none" or "host"`);
  }
  return mode;
}

/** The hostname: spec.hostname, else the session's name made a DNS label. */
export function hostnameOf(session: Session): string {
  if (session.spec?.hostname) return session.spec.hostname;
  const label = session.metadata.name!.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 63).replace(/^-+|-+$/g, '');
  return label || 'sandbox';
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

function readPasswd(layers: string[], file: 'passwd' | 'group'): string[][] {
  for (const layer of layers) {
    const p = join(layer, 'etc', file);
    if (existsSync(p)) {
      try {
        return readFileSync(p, 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
      } catch {
        return [];
      }
    }
  }
  return [];
}

/** The image's user ("", "root", "1000", "1000:1000", "name", "name:group") as uid/gid/home. */
function resolveUser(spec: string | undefined, layers: string[]): { uid: number; gid: number; home: string } {
  const s = (spec ?? '').trim();
  if (s === '' || s === 'root' || s === '0') return { uid: 0, gid: 0, home: '/root' };
  const [u, g] = s.split(':', 2) as [string, string | undefined];
  const passwd: PasswdEntry[] = readPasswd(layers, 'passwd').map((f) => ({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5] || '/' }));
  const entry = /^\d+$/.test(u) ? passwd.find((p) => p.uid === Number(u)) : passwd.find((p) => p.name === u);
  let uid: number;
  if (/^\d+$/.test(u)) uid = Number(u);
  else if (entry) uid = entry.uid;
  else throw new BundleError('InvalidImage', `the image's user "${u}" is not in its /etc/passwd`);
  let gid = entry?.gid ?? uid;
  if (g !== undefined) {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const grp = readPasswd(layers, 'group').find((f) => f[0] === g);
      if (!grp) throw new BundleError('InvalidImage', `the image's group "${g}" is not in its /etc/group`);
      gid = Number(grp[2]);
    }
  }
  return { uid, gid, home: entry?.home ?? '/' };
}

/** Image env, then the spec's, by name (later wins); PATH and HOME always set. */
function mergeEnv(imageEnv: string[] | undefined, specEnv: { name: string; value?: string }[] | undefined, home: string): string[] {
  const env = new Map<string, string>();
  for (const e of imageEnv ?? []) {
    const eq = e.indexOf('=');
    if (eq > 0) env.set(e.slice(0, eq), e);
  }
  if (!env.has('PATH')) env.set('PATH', DEFAULT_PATH);
  if (!env.has('HOME')) env.set('HOME', `HOME=${home}`);
  for (const e of specEnv ?? []) env.set(e.name, `${e.name}=${e.value ?? ''}`);
  return [...env.values()];
}

/** The image name a session resolves to: spec.image, else the daemon's default_image. */
export function imageNameOf(session: Session, config: ResolvedConfig): string {
  return session.spec?.image || config.default_image;
}

/** The settings fixed at creation, from the spec and the configuration; BundleError when refused. */
export function fixedSettings(session: Session, config: ResolvedConfig): FixedSettings {
  const m = sessionWorkspaceMount(session.spec);
  if (m && !config.workspace.enabled) {
    throw new BundleError('WorkspacesDisabled', `spec.workspace names "${m.name}", but workspaces are disabled on this daemon (workspace.enabled: false)`);
  }
  return {
    image: imageNameOf(session, config),
    workspace: m ? { name: m.name, mountPath: m.mountPath } : config.workspace.enabled ? { name: null, mountPath: DEFAULT_WORKSPACE_MOUNT_PATH } : null,
    network: networkOf(session, config),
    seccomp: seccompOf(session, config),
    env: (session.spec?.env ?? []).map((e) => ({ name: e.name, value: e.value ?? '' })),
    workingDir: session.spec?.workingDir || null,
    hostname: hostnameOf(session),
  };
}

/**
 * Capabilities of a sandbox running as root: just enough to own its files (write into a
 * workspace that belongs to the image's unprivileged user, chmod/utime what it did not create).
 * None for any other user, and never anything that reaches past the sandbox's own files.
 */
const ROOT_CAPABILITIES = ['CAP_DAC_OVERRIDE', 'CAP_FOWNER'];

export function buildBundle(input: BundleInput): Bundle {
  const { session, config, image } = input;
  const uid = session.metadata.uid;
  if (!uid) throw new Error('the session has no metadata.uid');
  const paths = sessionPaths(input.dataDir, uid);
  const fixed = fixedSettings(session, config);
  const limits = sessionLimits(session, config);
  let layers: string[];
  try {
    layers = layerPaths(input.dataDir, image);
  } catch (e) {
    throw new BundleError('InvalidImage', `image ${fixed.image}: ${(e as Error).message}`);
  }
  if (layers.length === 0) throw new BundleError('InvalidImage', `image ${fixed.image} has no layers`);
  const user = resolveUser(image.config.user, layers);
  const env = mergeEnv(image.config.env, session.spec?.env, user.home);
  if (fixed.workspace && !input.workspaceSource) throw new Error('buildBundle: the session mounts a workspace, but no workspaceSource was given');
  const ws = fixed.workspace && input.workspaceSource ? { source: input.workspaceSource, mountPath: fixed.workspace.mountPath } : undefined;
  const cwd = fixed.workingDir ?? (image.config.workingDir || (ws ? ws.mountPath : '/'));
  const { hostname, network, seccomp } = fixed;
  const caps = user.uid === 0 ? ROOT_CAPABILITIES : [];
  const tmpSizeK = Math.max(1024, Math.floor(limits.memoryBytes / 1024));

  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    // tmpfs pages count against the memory limit, so the limit bounds /tmp as well.
    { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', `size=${tmpSizeK}k`] },
    ...builtinImageMounts(image),
    { destination: SANDBOX_RUNNER, type: 'bind', source: input.runnerPath, options: ['bind', 'ro', 'nosuid', 'nodev'] },
    { destination: SANDBOX_RUN_DIR, type: 'bind', source: paths.run, options: ['bind', 'rw', 'nosuid', 'nodev', 'noexec'] },
  ];
  if (ws) mounts.push({ destination: ws.mountPath, type: 'bind', source: ws.source, options: ['rbind', 'rw', 'nosuid', 'nodev'] });

  const namespaces = ['pid', 'ipc', 'uts', 'mount', 'cgroup', ...(network === 'none' ? ['network'] : [])].map((type) => ({ type }));
  const oci: OciConfig = {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: user.uid, gid: user.gid },
      args: [SANDBOX_RUNNER, '--socket', SANDBOX_SOCKET],
      env,
      cwd,
      capabilities: { bounding: [...caps], effective: [...caps], inheritable: [], permitted: [...caps], ambient: [] },
      rlimits: [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 }],
      noNewPrivileges: true,
      // No oomScoreAdj: the runner is tiny, so with equal scores a memory-cgroup OOM picks the
      // hog, never PID 1 (memory.oom.group stays off); a lower score would be inherited by
      // everything in the sandbox and shield it from the host's own OOM killer instead.
    },
    root: { path: paths.rootfs, readonly: false },
    hostname,
    mounts,
    annotations: {
      'sandkasten.dev/overlay.lowerdirs': layers.join(':'),
      'sandkasten.dev/overlay.upperdir': paths.upper,
      'sandkasten.dev/overlay.workdir': paths.work,
      [ANNOTATION_UID]: uid,
      [ANNOTATION_NAME]: session.metadata.name!,
      [ANNOTATION_NAMESPACE]: session.metadata.namespace ?? '',
      [ANNOTATION_FIXED]: JSON.stringify(fixed),
    },
    linux: {
      namespaces,
      resources: ociResources(limits, input.swapLimit ?? true),
      cgroupsPath: cgroupPath(uid),
      maskedPaths: [...MASKED_PATHS],
      readonlyPaths: [...READONLY_PATHS],
    },
  };
  if (seccomp !== 'off') oci.linux.seccomp = seccompProfile(seccomp);
  return { config: oci, limits, fixed };
}

/** The FixedSettings a written bundle recorded, or undefined when unreadable. */
export function fixedSettingsOf(config: { annotations?: Record<string, string> }): FixedSettings | undefined {
  const raw = config.annotations?.[ANNOTATION_FIXED];
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as FixedSettings;
  } catch {
    return undefined;
  }
}

/** The limits a written bundle holds. */
export function limitsOf(config: { linux?: { resources?: OciResources } }): SessionLimits | undefined {
  const r = config.linux?.resources;
  if (!r?.memory || !r.cpu || !r.pids) return undefined;
  return { cpu: r.cpu.quota / r.cpu.period, memoryBytes: r.memory.limit, pids: r.pids.limit };
}

/** Names of the fixed settings that differ (for the "must be recreated" message). */
export function changedSettings(applied: FixedSettings, wanted: FixedSettings): string[] {
  const out: string[] = [];
  for (const k of Object.keys(wanted) as (keyof FixedSettings)[]) {
    if (JSON.stringify(applied[k]) !== JSON.stringify(wanted[k])) out.push(k);
  }
  return out;
}
