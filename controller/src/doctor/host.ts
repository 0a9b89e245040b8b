// Facts about the host that the checks judge: `node-agent check`, the mount table, ELF headers.

import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { dirname } from 'node:path';

/** What `node-agent check` prints. */
export interface NodeAgentFacts {
  kernel: string;
  arch: string;
  cgroup: { mode: 'v1' | 'v2' | 'unknown'; controllers: string[]; hybrid: boolean; favordynmods: boolean; error?: string };
  overlayfs: boolean;
  userNamespaces: boolean;
  seccomp: boolean;
  pidfd: boolean;
  clone3: boolean;
  openat2: boolean;
  mountSetattr: boolean;
  ok: boolean;
}

/** Runs `node-agent check`; a string is the reason it could not. */
export function nodeAgentCheck(bin: string): NodeAgentFacts | string {
  const r = spawnSync(bin, ['check'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error) return (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT' ? '`check` did not finish in 10 s' : r.error.message;
  if (r.status !== 0) return `\`check\` exited ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim().split('\n')[0] ?? ''}`;
  let v: unknown;
  try {
    v = JSON.parse(r.stdout);
  } catch {
    return `\`check\` printed no JSON: ${r.stdout.slice(0, 200)}`;
  }
  const f = v as NodeAgentFacts;
  const bools = ['overlayfs', 'userNamespaces', 'seccomp', 'pidfd', 'clone3', 'openat2', 'mountSetattr', 'ok'] as const;
  if (typeof f?.kernel !== 'string' || typeof f.cgroup?.mode !== 'string' || !Array.isArray(f.cgroup.controllers) || bools.some((b) => typeof f[b] !== 'boolean')) {
    return `\`check\` printed JSON of an unexpected shape (a different node-agent version?): ${r.stdout.slice(0, 200)}`;
  }
  return f;
}

/** "6.1.0-18-amd64" → [6, 1]; undefined when it does not start with a version. */
export function kernelVersion(release: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

export interface MountEntry {
  mountPoint: string;
  /** Per-mount options (ro, noexec, …). */
  options: string[];
  fsType: string;
  source: string;
  superOptions: string[];
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (sep < 6 || f.length < sep + 4) continue;
    out.push({
      mountPoint: unescape(f[4]!),
      options: f[5]!.split(','),
      fsType: f[sep + 1]!,
      source: unescape(f[sep + 2]!),
      superOptions: f[sep + 3]!.split(','),
    });
  }
  return out;
}

/** The mount a (real, absolute) path lives on: the last-mounted one with the longest prefix. */
export function mountOf(path: string, mounts: MountEntry[] = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'))): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const m of mounts) {
    const mp = m.mountPoint;
    const covers = mp === '/' || path === mp || path.startsWith(`${mp}/`);
    if (covers && (!best || mp.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

/** The path itself if it exists, else its nearest existing ancestor. */
export function nearestExisting(path: string, exists: (p: string) => boolean): string {
  let p = path;
  while (!exists(p) && dirname(p) !== p) p = dirname(p);
  return p;
}

export interface ElfInfo {
  /** e_machine */
  machine: number;
  /** Has a PT_INTERP program header: needs a dynamic loader at run time. */
  dynamic: boolean;
}

const PT_INTERP = 3;

/** Reads an ELF file's machine and whether it names an interpreter; a string says why not. */
export function readElf(path: string): ElfInfo | string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    return (e as Error).message;
  }
  try {
    const h = Buffer.alloc(64);
    if (readSync(fd, h, 0, 64, 0) < 52 || h.readUInt32BE(0) !== 0x7f454c46) return 'not an ELF executable';
    const is64 = h[4] === 2;
    const le = h[5] === 1;
    const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const machine = u16(h, 18);
    const phoff = is64 ? Number(le ? h.readBigUInt64LE(32) : h.readBigUInt64BE(32)) : u32(h, 28);
    const phentsize = u16(h, is64 ? 54 : 42);
    const phnum = u16(h, is64 ? 56 : 44);
    if (phentsize < 4 || phnum > 4096) return 'malformed ELF header';
    const ph = Buffer.alloc(phentsize * phnum);
    if (readSync(fd, ph, 0, ph.length, phoff) !== ph.length) return 'truncated ELF program headers';
    let dynamic = false;
    for (let i = 0; i < phnum; i++) if (u32(ph, i * phentsize) === PT_INTERP) dynamic = true;
    return { machine, dynamic };
  } finally {
    closeSync(fd);
  }
}

/** ELF e_machine of the architecture Node runs on (undefined for ones we do not know). */
export const HOST_ELF_MACHINE: number | undefined = (
  { x64: 62, arm64: 183, arm: 40, ia32: 3, riscv64: 243, ppc64: 21, s390x: 22, loong64: 258 } as Record<string, number>
)[process.arch];
