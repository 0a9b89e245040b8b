// Test helpers: a real API server in this process (over SQLite in a temp dir) and the real skctl
// binary in a child process talking to it, with a private HOME and config directory.

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SandboxClient } from '@sandkasten/client';
import { startServer, type TestServer } from '@sandkasten/controller/dist/apiserver/testutil.js';

export const BIN = fileURLToPath(new URL('./bin/skctl.js', import.meta.url));
export const GV = 'sandkasten.dev/v1';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Env {
  server: TestServer;
  client: SandboxClient;
  /** A temp dir: HOME, the config dir and manifests live here. */
  dir: string;
  /** Runs skctl; `env` adds to (or, with undefined values, removes from) the environment. */
  skctl(args: string[], opts?: { env?: Record<string, string | undefined>; input?: string; timeoutMs?: number }): Promise<Run>;
  /** Writes a file under dir (creating directories); returns its path. */
  write(rel: string, text: string): string;
  cleanup(): Promise<void>;
}

export async function setup(): Promise<Env> {
  const server = await startServer({ apiKey: 'test-key' });
  const dir = mkdtempSync(join(tmpdir(), 'skctl-test-'));
  const client = new SandboxClient({ baseUrl: server.url, apiKey: server.apiKey });
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith('SANDKASTEN_') || k.startsWith('SKCTL_') || k === 'EDITOR' || k === 'VISUAL') continue;
    base[k] = v;
  }
  Object.assign(base, {
    HOME: dir,
    XDG_CONFIG_HOME: join(dir, 'config'),
    SANDKASTEN_SERVER: server.url,
    SANDKASTEN_API_KEY: server.apiKey,
  });
  return {
    server,
    client,
    dir,
    skctl(args, opts = {}) {
      const env = { ...base };
      for (const [k, v] of Object.entries(opts.env ?? {})) {
        if (v === undefined) delete env[k];
        else env[k] = v;
      }
      return runSkctl(args, env, opts.input, opts.timeoutMs ?? 20_000);
    },
    write(rel, text) {
      const p = join(dir, rel);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, text);
      return p;
    },
    async cleanup() {
      client.close();
      await server.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs the binary asynchronously (the server lives in this process and must keep answering). */
export function runSkctl(args: string[], env: Record<string, string>, input: string | undefined, timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`skctl ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

/** A long-running skctl (get -w): its output so far, a wait for a pattern, and stop(). */
export function startSkctl(e: Env, args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, HOME: e.dir, XDG_CONFIG_HOME: join(e.dir, 'config'), SANDKASTEN_SERVER: e.server.url, SANDKASTEN_API_KEY: e.server.apiKey },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: (() => void)[] = [];
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    stdout += c;
    for (const w of waiters.splice(0)) w();
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return {
    output: () => stdout,
    async waitFor(re: RegExp, ms = 10_000): Promise<void> {
      const deadline = Date.now() + ms;
      while (!re.test(stdout)) {
        if (Date.now() > deadline) throw new Error(`no ${re} in output within ${ms} ms:\n${stdout}\nstderr: ${stderr}`);
        await new Promise<void>((r) => {
          const t = setTimeout(r, 100);
          waiters.push(() => {
            clearTimeout(t);
            r();
          });
        });
      }
    },
    async stop(): Promise<number | null> {
      child.kill('SIGINT');
      return exited;
    },
  };
}

export function workspaceYaml(name: string, extra = ''): string {
  return `apiVersion: ${GV}\nkind: Workspace\nmetadata:\n  name: ${name}\n${extra}`;
}

export function sessionYaml(name: string, spec = 'spec:\n  image: base\n', meta = ''): string {
  return `apiVersion: ${GV}\nkind: Session\nmetadata:\n  name: ${name}\n${meta}${spec}`;
}
