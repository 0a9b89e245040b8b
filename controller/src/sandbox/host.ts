// A session's directories on the host: made before the sandbox, removed after it, and the
// probes and leftovers around them.

import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OciConfig } from './bundle.js';
import { cgroupPath, type SessionPaths } from './paths.js';

const CGROUP_ROOT = '/sys/fs/cgroup';

/**
 * Makes the session's directories (idempotent). The run directory (the runner's socket) and an
 * ephemeral workspace belong to the sandbox's user, so a non-root image can use them; the rest
 * is root's and private.
 */
export function prepareSessionDirs(p: SessionPaths, owner: { uid: number; gid: number }, ephemeralWorkspace: boolean): void {
  mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  chmodSync(p.dir, 0o700);
  for (const d of [p.upper, p.work, p.rootfs]) mkdirSync(d, { recursive: true, mode: 0o755 });
  chmodSync(p.upper, 0o755); // the root directory of the sandbox: enterable by any user
  const own = [p.run, ...(ephemeralWorkspace ? [p.workspace] : [])];
  for (const d of own) {
    mkdirSync(d, { recursive: true, mode: 0o755 });
    chmodSync(d, 0o755);
    chownSync(d, owner.uid, owner.gid);
  }
}

/** Writes config.json atomically (a crash never leaves half a bundle). */
export function writeBundleConfig(p: SessionPaths, config: OciConfig): void {
  const tmp = `${p.config}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, p.config);
}

/** The bundle's config.json, or undefined when absent or unreadable. */
export function readBundleConfig(p: SessionPaths): OciConfig | undefined {
  try {
    return JSON.parse(readFileSync(p.config, 'utf8')) as OciConfig;
  } catch {
    return undefined;
  }
}

/** Removes the session's directory tree (upper layer, ephemeral workspace, bundle). */
export function removeSessionDir(p: SessionPaths): void {
  rmSync(p.dir, { recursive: true, force: true, maxRetries: 3 });
}

/**
 * Removes empty cgroup directories a crashed create may have left for the session (node-agent
 * delete removes the cgroup of every container it knows; this covers one it never recorded).
 * Only rmdir: a cgroup with processes stays, and is reported.
 */
export function removeCgroupLeftovers(uid: string): string[] {
  const rel = cgroupPath(uid);
  const busy: string[] = [];
  let hierarchies: string[];
  try {
    hierarchies = readdirSync(CGROUP_ROOT);
  } catch {
    return busy;
  }
  const candidates = [join(CGROUP_ROOT, rel), ...hierarchies.map((h) => join(CGROUP_ROOT, h, rel))];
  for (const dir of candidates) {
    if (!existsSync(dir)) continue;
    try {
      rmdirSync(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') busy.push(dir);
    }
  }
  return busy;
}

/** Whether memory+swap can be limited: v1 with swap accounting, or v2. */
export function hostHasSwapLimit(): boolean {
  if (existsSync(join(CGROUP_ROOT, 'cgroup.controllers'))) return true;
  return existsSync(join(CGROUP_ROOT, 'memory', 'memory.memsw.limit_in_bytes'));
}

/** The last `maxBytes` of a file as text (for runner logs in failure messages). */
export function tailOf(path: string, maxBytes = 2000): string {
  try {
    const b = readFileSync(path);
    return b.subarray(Math.max(0, b.length - maxBytes)).toString('utf8').trim();
  } catch {
    return '';
  }
}
