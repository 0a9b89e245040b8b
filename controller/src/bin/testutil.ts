// Test helpers: the real `sandkasten` binary in a child process, with a temp data dir.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLED_NODE_AGENT } from '../config/index.js';
import { agentRoot } from '../sandbox/paths.js';

export const BIN = fileURLToPath(new URL('./sandkasten.js', import.meta.url));

// Sandboxes outlive the daemon (by design: a restart adopts them), so a test that stops a daemon
// with live Sessions would leave them running. When the test process exits, every sandbox of
// every data_dir a daemon was started with here is removed.
const dataDirs = new Set<string>();
process.on('exit', () => {
  for (const dataDir of dataDirs) {
    const root = agentRoot(dataDir);
    let ids: string[] = [];
    try {
      ids = readdirSync(root);
    } catch {
      continue;
    }
    for (const id of ids) spawnSync(BUNDLED_NODE_AGENT, ['--root', root, 'delete', '--force', id], { stdio: 'ignore', timeout: 10_000 });
    rmSync(root, { recursive: true, force: true });
  }
});

export interface Daemon {
  child: ChildProcess;
  url: string;
  port: number;
  dir: string;
  dataDir: string;
  configPath: string;
  output(): string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export function tempDir(prefix = 'sk-daemon-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A self-signed certificate for 127.0.0.1 (undefined when openssl is not installed). */
export function makeCert(dir: string): { cert: string; key: string } | undefined {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return r.status === 0 ? { cert, key } : undefined;
}

/** Starts the daemon and waits for its "listening on" line. */
export async function startDaemon(opts: { dir?: string; config?: string; args?: string[]; env?: Record<string, string> } = {}): Promise<Daemon> {
  const dir = opts.dir ?? tempDir();
  const dataDir = join(dir, 'data');
  const configPath = join(dir, 'sandkasten.yaml');
  dataDirs.add(dataDir);
  const dataDirMatch = /^data_dir:\s*"?([^"\n]+)"?\s*$/m.exec(opts.config ?? '');
  if (dataDirMatch) dataDirs.add(dataDirMatch[1]!);
  writeFileSync(configPath, opts.config ?? `listen: "127.0.0.1:0"\napi_key: "test-key"\ndata_dir: "${dataDir}"\n`);
  const child = spawn(process.execPath, [BIN, '--config', configPath, ...(opts.args ?? [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`daemon did not start: ${out}`)), 10_000);
    const check = () => {
      const m = /listening on (https?:\/\/[^\s]+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m[1]!);
      }
    };
    child.stderr!.on('data', check);
    void exited.then(() => {
      clearTimeout(t);
      reject(new Error(`daemon exited: ${out}`));
    });
  });
  return {
    child,
    url,
    port: Number(new URL(url).port),
    dir,
    dataDir,
    configPath,
    output: () => out,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs the binary to completion (for argument and config errors). */
export function runBin(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 10_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
