// The real `sandkasten` daemon as a child process for the benchmarks, on a free loopback port,
// so the load generator and the server are separate processes on the same cores.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/sandkasten.js', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

export interface BenchDaemonOptions {
  dir: string;
  token: string;
  /** Extra daemon arguments (e.g. --api-only). */
  args?: string[];
  /** Resolves true once the daemon serves (polled every 50 ms, 10 s at most); may throw while it does not listen. */
  isReady(port: number): Promise<boolean>;
}

/** Starts the daemon with a fresh data_dir in `dir`; its stderr goes to dir/daemon.log. */
export async function startBenchDaemon(o: BenchDaemonOptions): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const cfg = join(o.dir, 'sandkasten.yaml');
  writeFileSync(cfg, `listen: "127.0.0.1:${port}"\napi_key: "${o.token}"\ndata_dir: "${join(o.dir, 'data')}"\n`);
  // BENCH_DAEMON_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the daemon.
  const nodeArgs = (process.env.BENCH_DAEMON_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const log = join(o.dir, 'daemon.log');
  const child = spawn(process.execPath, [...nodeArgs, BIN, '--config', cfg, ...(o.args ?? [])], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (c: Buffer) => writeFileSync(log, c, { flag: 'a' }));
  for (let i = 0; i < 200; i++) {
    try {
      if (await o.isReady(port)) return { child, port };
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`daemon did not become ready: ${existsSync(log) ? readFileSync(log, 'utf8') : ''}`);
}
