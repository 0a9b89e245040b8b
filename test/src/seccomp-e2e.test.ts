// Seccomp through the real node-agent CLI, as root: the compat ABIs (i386 via int 0x80, x32 via
// the x32 syscall bit) cannot get around a profile, and an allow-list profile the size of the
// common container defaults runs a real shell.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DENIED_SYSCALLS, buildNodeAgent, cleanupStateRoot, isRoot, makeBundle, makeRootfs, nodeAgent, repoRoot, uniqueId,
  type Bundle, type BundleOptions, type SeccompProfile,
} from './lib/bundle.js';

const skip = !isRoot ? 'needs root' : process.arch !== 'x64' ? 'x86_64 only' : false;
const DENIED = 77; // an errno the kernel itself would not give for these calls

// abi-probe NAME…: prints NAME=ERRNO (0 on success). The foreign-ABI entries reach the kernel
// under another audit architecture (i386) or another syscall number (x32) than native code.
const PROBE = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
static long int80(long nr, long a, long b, long c) {
  long r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
  return r < 0 && r > -4096 ? (errno = (int)-r, -1) : r;
}
static long call(const char *n) {
  static const char src[] = "none", dst[] = "/tmp", fs[] = "tmpfs";
  if (!strcmp(n, "native-mount")) return syscall(SYS_mount, src, dst, fs, 0, NULL);
  if (!strcmp(n, "native-getpid")) return syscall(SYS_getpid);
  if (!strcmp(n, "i386-mount")) return int80(21, (long)src, (long)dst, (long)fs);
  if (!strcmp(n, "i386-getpid")) return int80(20, 0, 0, 0);
  if (!strcmp(n, "x32-mount")) return syscall(0x40000000L | SYS_mount, src, dst, fs, 0, NULL);
  errno = ENOSYS;
  return -1;
}
int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    errno = 0;
    long r = call(argv[i]);
    printf("%s=%d\n", argv[i], r < 0 ? errno : 0);
    fflush(stdout);
  }
  return 0;
}
`;

let rootfs = '';
const bundles: Bundle[] = [];

function run(opts: BundleOptions): { status: number | null; out: Record<string, string>; stdout: string; stderr: string } {
  const b = makeBundle({ rootfs, readonlyRoot: true, ...opts });
  bundles.push(b);
  const r = nodeAgent(['run', '--bundle', b.dir, uniqueId('scmp')]);
  const out = Object.fromEntries(r.stdout.split('\n').filter((l) => l.includes('=')).map((l) => l.split('=') as [string, string]));
  return { status: r.status, out, stdout: r.stdout, stderr: r.stderr };
}

function denyMount(architectures: string[]): SeccompProfile {
  return { defaultAction: 'SCMP_ACT_ALLOW', architectures, syscalls: [{ names: ['mount'], action: 'SCMP_ACT_ERRNO', errnoRet: DENIED }] };
}

/** Every x86_64 syscall name node-agent knows (from its generated table). */
function x86_64Names(): string[] {
  const h = readFileSync(join(repoRoot, 'node-agent/src/seccomp_syscalls.h'), 'utf8');
  const start = h.indexOf('sk_syscalls_x86_64[]');
  const section = h.slice(start, h.indexOf('};', start));
  return [...section.matchAll(/\{"([a-z0-9_]+)", \d+\}/g)].map((m) => m[1]!);
}

before(() => {
  if (skip) return;
  buildNodeAgent();
  rootfs = makeRootfs();
  const dir = mkdtempSync(join(tmpdir(), 'sk-probe-'));
  writeFileSync(join(dir, 'abi-probe.c'), PROBE);
  // -no-pie: the probe's strings must have 32-bit addresses for the int 0x80 calls.
  const r = spawnSync('gcc', ['-static', '-no-pie', '-O2', '-o', join(rootfs, 'bin/abi-probe'), join(dir, 'abi-probe.c')], { encoding: 'utf8' });
  rmSync(dir, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`building abi-probe failed:\n${r.stderr}`);
});

after(() => {
  if (skip) return;
  cleanupStateRoot();
  for (const b of bundles) b.cleanup();
  rmSync(rootfs, { recursive: true, force: true });
});

describe('seccomp in real sandboxes', { skip }, () => {
  test('x86_64, x86 and x32 listed: mount is denied through every ABI', () => {
    const r = run({ args: ['/bin/abi-probe', 'native-mount', 'i386-mount', 'x32-mount', 'i386-getpid'], seccomp: denyMount(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']) });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.out['native-mount'], String(DENIED));
    assert.equal(r.out['i386-mount'], String(DENIED), 'the i386 number of mount (21) is filtered in the i386 section');
    assert.equal(r.out['x32-mount'], String(DENIED), 'the x32 number of mount is filtered in the x32 part');
    assert.equal(r.out['i386-getpid'], '0', 'an i386 syscall without a rule runs');
  });

  test('only x86_64 listed: an x32 syscall kills the sandbox instead of slipping past the rules', () => {
    const r = run({ args: ['/bin/abi-probe', 'native-mount', 'x32-mount', 'native-getpid'], seccomp: denyMount(['SCMP_ARCH_X86_64']) });
    assert.equal(r.out['native-mount'], String(DENIED));
    assert.equal(r.out['native-getpid'], undefined, 'the process died at the x32 call');
    assert.equal(r.status, 128 + 31, `exit ${r.status}: killed by SIGSYS expected\n${r.stdout}${r.stderr}`);
  });

  test('only x86_64 listed: an i386 syscall (int 0x80) kills the sandbox', () => {
    const r = run({ args: ['/bin/abi-probe', 'i386-getpid', 'native-getpid'], seccomp: denyMount(['SCMP_ARCH_X86_64']) });
    assert.equal(r.out['i386-getpid'], undefined);
    assert.equal(r.status, 128 + 31, `exit ${r.status}: killed by SIGSYS expected\n${r.stdout}${r.stderr}`);
  });

  test('an allow-list profile of every syscall but the dangerous ones runs bash; the rest get the default errno', () => {
    const denied = new Set(DENIED_SYSCALLS);
    const allow = x86_64Names().filter((n) => !denied.has(n));
    assert.ok(allow.length > 300, `${allow.length} names`);
    const profile: SeccompProfile = {
      defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: DENIED, architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
      syscalls: [{ names: allow, action: 'SCMP_ACT_ALLOW' }],
    };
    const r = run({ args: ['/bin/bash', '-c', 'echo hello from $BASH_VERSION | cut -c1-10; ls / | grep -c bin; /bin/abi-probe native-mount i386-mount'], seccomp: profile });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^hello from\n[12]\n/);
    assert.equal(r.out['native-mount'], String(DENIED));
    assert.equal(r.out['i386-mount'], String(DENIED));
  });
});
