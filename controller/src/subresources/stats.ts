// Resource usage of a sandbox from its cgroup: cpu time and limit, memory usage and limit, pids.
// Hierarchies are found in /proc/self/mountinfo (never assumed), on cgroup v2, v1 and hybrid
// hosts (v1 controllers, cpu and cpuacct mounted together or apart, plus a cgroup2 mount that may
// carry some controllers). Each controller is read where it is mounted: v1 first, then v2.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface Hierarchy {
  mountPoint: string;
  /** The cgroup the mount shows as its root (not "/" inside a cgroup namespace). */
  root: string;
}

export interface CgroupLayout {
  /** v1 controller name → its hierarchy. */
  v1: Map<string, Hierarchy>;
  /** The cgroup2 hierarchy, if mounted. */
  v2?: Hierarchy;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function parseMountinfo(text: string): CgroupLayout {
  const layout: CgroupLayout = { v1: new Map() };
  for (const line of text.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const pre = line.slice(0, dash).split(' ');
    const [fstype, , superOpts = ''] = line.slice(dash + 3).split(' ');
    if (pre.length < 5) continue;
    const h = { root: unescape(pre[3]!), mountPoint: unescape(pre[4]!) };
    if (fstype === 'cgroup2') layout.v2 ??= h;
    else if (fstype === 'cgroup') {
      for (const opt of superOpts.split(',')) {
        if (opt !== 'rw' && opt !== 'ro' && !layout.v1.has(opt)) layout.v1.set(opt, h);
      }
    }
  }
  return layout;
}

/** The directory of `cgroup` (a path from the hierarchy's root) in a hierarchy. */
function dirIn(h: Hierarchy, cgroup: string): string {
  let rel = cgroup;
  if (h.root !== '/' && (rel === h.root || rel.startsWith(`${h.root}/`))) rel = rel.slice(h.root.length);
  return join(h.mountPoint, rel);
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Unlimited values ("max", or v1's page-rounded 2^63-1) as null. */
function limit(s: string | undefined): number | null | undefined {
  if (s === undefined) return undefined;
  if (s === 'max' || s === '-1') return null;
  const n = Number(s);
  if (!Number.isFinite(n)) return undefined;
  return n >= 2 ** 62 ? null : n;
}

function num(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

function keyed(text: string | undefined, key: string): number | undefined {
  if (text === undefined) return undefined;
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

export interface SessionStats {
  /** RFC 3339 time of the reading. */
  timestamp: string;
  cgroup: { path: string; version: 'v1' | 'v2' | 'hybrid' };
  cpu: {
    /** CPU time used since the sandbox started, in nanoseconds. */
    usageNanoseconds: number | null;
    /** CPUs the quota allows; null: unlimited. */
    limitCores: number | null;
  };
  memory: {
    usageBytes: number | null;
    /** null: unlimited. */
    limitBytes: number | null;
    /** Times the OOM killer acted in the sandbox. */
    oomKills: number | null;
  };
  pids: {
    current: number | null;
    /** null: unlimited. */
    limit: number | null;
  };
}

/** The cgroup does not exist in any hierarchy (the sandbox is gone). */
export class CgroupGoneError extends Error {
  override readonly name = 'CgroupGoneError';
}

/** Reads a sandbox's cgroup; `mountinfo` is for tests (default: this process's). */
export function readCgroupStats(cgroup: string, opts: { mountinfo?: string } = {}): SessionStats {
  const layout = parseMountinfo(opts.mountinfo ?? readFileSync('/proc/self/mountinfo', 'utf8'));
  const v1 = (controller: string) => {
    const h = layout.v1.get(controller);
    return h ? dirIn(h, cgroup) : undefined;
  };
  const v2dir = layout.v2 ? dirIn(layout.v2, cgroup) : undefined;
  const v2controllers = new Set((v2dir ? (read(join(v2dir, 'cgroup.controllers')) ?? '') : '').split(/\s+/).filter(Boolean));
  // A hybrid host lists controllers under both; only enabled v2 controllers are read there.
  const onV2 = (c: string) => !layout.v1.has(c) && v2controllers.has(c);
  let found = false;
  const r = (dir: string | undefined, file: string) => {
    if (dir === undefined) return undefined;
    const v = read(join(dir, file));
    if (v !== undefined) found = true;
    return v;
  };

  let usageNs: number | undefined;
  let cores: number | null | undefined;
  if (onV2('cpu') || (!layout.v1.has('cpuacct') && v2dir && r(v2dir, 'cpu.stat') !== undefined)) {
    // cpu.stat is there on v2 even without the cpu controller enabled.
    const usec = keyed(r(v2dir, 'cpu.stat'), 'usage_usec');
    usageNs = usec === undefined ? undefined : usec * 1000;
    const max = r(v2dir, 'cpu.max')?.split(' ');
    if (max) cores = max[0] === 'max' ? null : Number(max[0]) / Number(max[1] ?? 100000);
  }
  if (usageNs === undefined) usageNs = num(r(v1('cpuacct'), 'cpuacct.usage'));
  if (cores === undefined) {
    const quota = num(r(v1('cpu'), 'cpu.cfs_quota_us'));
    const period = num(r(v1('cpu'), 'cpu.cfs_period_us'));
    if (quota !== undefined) cores = quota < 0 || !period ? null : quota / period;
  }

  let memUsage: number | undefined;
  let memLimit: number | null | undefined;
  let ooms: number | undefined;
  if (onV2('memory')) {
    memUsage = num(r(v2dir, 'memory.current'));
    memLimit = limit(r(v2dir, 'memory.max'));
    ooms = keyed(r(v2dir, 'memory.events'), 'oom_kill');
  } else {
    const dir = v1('memory');
    memUsage = num(r(dir, 'memory.usage_in_bytes'));
    memLimit = limit(r(dir, 'memory.limit_in_bytes'));
    ooms = keyed(r(dir, 'memory.oom_control'), 'oom_kill');
  }

  const pdir = onV2('pids') ? v2dir : v1('pids');
  const pidsCurrent = num(r(pdir, 'pids.current'));
  const pidsLimit = limit(r(pdir, 'pids.max'));

  if (!found) throw new CgroupGoneError(`cgroup ${cgroup} does not exist in any hierarchy`);
  const version = layout.v1.size === 0 ? 'v2' : layout.v2 ? 'hybrid' : 'v1';
  return {
    timestamp: new Date().toISOString(),
    cgroup: { path: cgroup, version },
    cpu: { usageNanoseconds: usageNs ?? null, limitCores: cores ?? null },
    memory: { usageBytes: memUsage ?? null, limitBytes: memLimit ?? null, oomKills: ooms ?? null },
    pids: { current: pidsCurrent ?? null, limit: pidsLimit ?? null },
  };
}
