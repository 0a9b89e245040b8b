// Test support: a runner started outside any sandbox, as PID 1 of fresh PID and mount
// namespaces (`unshare --pid --fork --mount-proc`, needs root), serving a socket in a temp
// directory, with file operations confined to a temp root. Not exported from index.ts.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RunnerClient } from './client.js';

export const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
export const runnerBin = join(repoRoot, 'runner/build/runner');

export interface StandaloneRunner {
  dir: string;
  socketPath: string;
  /** The directory file operations resolve in (--fs-root). */
  fsRoot: string;
  client: RunnerClient;
  child: ChildProcess;
  /** What the runner logged so far. */
  log(): string;
  /** Shuts the runner down (or kills it) and removes the temp directory. */
  stop(): Promise<void>;
}

export interface StartOptions {
  shell?: string;
  outputCap?: number;
  killGraceMs?: number;
  extraArgs?: string[];
  /** Start in these namespaces as PID 1 (default), or as a plain child (a subreaper). */
  pid1?: boolean;
  env?: NodeJS.ProcessEnv;
}

export function assertRunnerBuilt(): void {
  if (!existsSync(runnerBin)) throw new Error(`${runnerBin} is missing: run \`make -C runner\` (npm run build does)`);
}

export async function startRunner(opts: StartOptions = {}): Promise<StandaloneRunner> {
  assertRunnerBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'sk-runner-'));
  const socketPath = join(dir, 'run', 'runner.sock');
  const fsRoot = join(dir, 'root');
  mkdirSync(fsRoot);
  const args = ['--socket', socketPath, '--fs-root', fsRoot, '--ready-fd', '3'];
  if (opts.shell) args.push('--shell', opts.shell);
  if (opts.outputCap !== undefined) args.push('--output-cap', String(opts.outputCap));
  if (opts.killGraceMs !== undefined) args.push('--kill-grace-ms', String(opts.killGraceMs));
  args.push(...(opts.extraArgs ?? []));
  const pid1 = opts.pid1 ?? true;
  // --kill-child: if the test process dies, the runner (and with it the namespace) goes too.
  const [cmd, argv] = pid1 ? ['unshare', ['--pid', '--fork', '--mount-proc', '--kill-child', runnerBin, ...args]] : [runnerBin, args];
  const child = spawn(cmd, argv, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe', 'pipe'], env: opts.env ?? { ...process.env, HOME: dir } });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const ready = child.stdio[3] as NodeJS.ReadableStream;
    const timer = setTimeout(() => reject(new Error(`runner not ready after 10 s; log:\n${log}`)), 10_000);
    ready.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`runner exited (${code ?? sig}) before it was ready; log:\n${log}`));
    });
  });
  const client = new RunnerClient(socketPath);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    dir,
    socketPath,
    fsRoot,
    client,
    child,
    log: () => log,
    async stop() {
      try {
        if (child.exitCode === null && child.signalCode === null) {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([client.shutdown(), new Promise((r) => (timer = setTimeout(r, 3000)))]);
          clearTimeout(timer);
        }
      } catch {
        /* already gone */
      }
      client.close();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
