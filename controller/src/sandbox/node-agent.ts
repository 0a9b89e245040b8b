// The node-agent driver: its runc-shaped CLI as typed async calls. Every call runs the binary with
// `--root <state root> --log-format json`; a failure is its one JSON error line on stderr, parsed
// into a NodeAgentError (message, errno). Calls are bounded in time. The binary is started by a
// small helper shell rather than by forking the daemon (spawner.ts).

import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DirectSpawner, ShellSpawner, type SpawnOutput, type Spawner } from './spawner.js';

export type ContainerStatus = 'creating' | 'created' | 'running' | 'stopped';

/** node-agent state: the runtime-spec state object, plus `oomKills` while the cgroup exists. */
export interface ContainerState {
  ociVersion: string;
  id: string;
  status: ContainerStatus;
  /** Host pid of the container's init; 0 unless created or running. */
  pid: number;
  bundle: string;
  created: string;
  annotations: Record<string, string>;
  /** Processes the OOM killer took in the container's cgroup (absent without a cgroup). */
  oomKills?: number;
}

export interface ResourceUpdate {
  /** Bytes; -1 = unlimited. */
  memory?: number;
  /** memory + swap, bytes; -1 = unlimited. */
  memorySwap?: number;
  cpuQuota?: number;
  cpuPeriod?: number;
  cpuShares?: number;
  pidsLimit?: number;
}

export class NodeAgentError extends Error {
  constructor(
    /** The command, e.g. "create". */
    readonly command: string,
    message: string,
    /** errno node-agent reported (0 when none). */
    readonly errno: number,
    /** The exit code (or null when killed by a signal / timed out). */
    readonly exitCode: number | null,
  ) {
    super(message);
    this.name = 'NodeAgentError';
  }

  /** The container does not exist. */
  get notFound(): boolean {
    return this.errno === 2 && /does not exist/.test(this.message);
  }
}

export interface NodeAgentOptions {
  /** The node-agent binary. */
  binary: string;
  /** --root: the state directory of this daemon's containers. */
  root: string;
  /** Upper bound of one call (default 30 s). */
  timeoutMs?: number;
  /**
   * How the binary is started: `helper` (default) through one long-lived /bin/sh, so a call costs
   * the daemon no fork; `direct`: child_process.spawn each time. Without /bin/sh, `direct`.
   */
  spawn?: 'helper' | 'direct';
}

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const ERROR_LINE = /^\{"level":"error"/;

export class NodeAgent {
  readonly binary: string;
  readonly root: string;
  readonly #timeoutMs: number;
  readonly #spawner: Spawner;

  constructor(o: NodeAgentOptions) {
    this.binary = o.binary;
    this.root = o.root;
    this.#timeoutMs = o.timeoutMs ?? 30_000;
    // Output files beside the state root, not in it: the root is node-agent's own.
    this.#spawner = o.spawn !== 'direct' && ShellSpawner.available() ? new ShellSpawner(dirname(o.root)) : new DirectSpawner();
  }

  /** Ends the helper shell (calls in flight finish); a later call starts it again. */
  close(): void {
    this.#spawner.close();
  }

  /**
   * create: sets the container up; its process waits for start. The container inherits
   * node-agent's stdio (as with runc), so its stdout/stderr go to `logFile` (appended), never to
   * a pipe that would hold this call open for the container's lifetime.
   */
  create(id: string, bundle: string, logFile: string): Promise<{ pid: number }> {
    return this.#make('create', id, bundle, logFile);
  }

  /** run --detach: create and start in one call (the process execs as soon as it is set up). */
  runDetached(id: string, bundle: string, logFile: string): Promise<{ pid: number }> {
    return this.#make('run', id, bundle, logFile);
  }

  async #make(command: 'create' | 'run', id: string, bundle: string, logFile: string): Promise<{ pid: number }> {
    const stamp = `${process.pid}-${Date.now()}`;
    const errFile = join(bundle, `.node-agent-${stamp}.err`);
    const pidFile = join(bundle, `.node-agent-${stamp}.pid`);
    closeSync(openSync(logFile, 'a', 0o600)); // created private before anything is appended
    const args = ['--log', errFile, command, '--bundle', bundle, '--pid-file', pidFile, ...(command === 'run' ? ['--detach'] : []), id];
    const r = await this.#run(args, { appendTo: logFile });
    let stderr = '';
    try {
      stderr = readFileSync(errFile, 'utf8');
    } catch {
      // no error written
    }
    rmSync(errFile, { force: true });
    let pid = 0;
    try {
      pid = Number(readFileSync(pidFile, 'utf8').trim()) || 0;
    } catch {
      // no pid: it failed
    }
    rmSync(pidFile, { force: true });
    this.#check(command, { ...r, stderr });
    return { pid };
  }

  /**
   * Whether node-agent has a state directory for the id (its documented layout: one directory per
   * id under the root). A cheap pre-check: false means state() would say "does not exist".
   */
  exists(id: string): boolean {
    return existsSync(join(this.root, id));
  }

  async start(id: string): Promise<void> {
    this.#check('start', await this.#run(['start', id]));
  }

  /** The container's state, or undefined when it does not exist. */
  async state(id: string): Promise<ContainerState | undefined> {
    const r = await this.#run(['state', id]);
    try {
      this.#check('state', r);
    } catch (e) {
      if (e instanceof NodeAgentError && e.notFound) return undefined;
      throw e;
    }
    return parseState(r.stdout, 'state');
  }

  /** Every container under the root (without oomKills). */
  async list(): Promise<ContainerState[]> {
    const r = await this.#run(['list', '--format', 'json']);
    this.#check('list', r);
    let v: unknown;
    try {
      v = JSON.parse(r.stdout);
    } catch {
      throw new NodeAgentError('list', `list: output is not JSON: ${r.stdout.slice(0, 200)}`, 0, r.code);
    }
    if (!Array.isArray(v)) throw new NodeAgentError('list', 'list: output is not a JSON array', 0, r.code);
    return v.map((x) => parseState(JSON.stringify(x), 'list'));
  }

  async kill(id: string, signal = 'TERM', all = false): Promise<void> {
    this.#check('kill', await this.#run(['kill', ...(all ? ['--all'] : []), id, signal]));
  }

  /** Removes the container (killing what runs, with force); an unknown id is fine with force. */
  async delete(id: string, force = true): Promise<void> {
    this.#check('delete', await this.#run(['delete', ...(force ? ['--force'] : []), id]));
  }

  async update(id: string, u: ResourceUpdate): Promise<void> {
    const args: string[] = [];
    const add = (flag: string, v: number | undefined) => {
      if (v !== undefined) args.push(flag, String(v));
    };
    add('--memory', u.memory);
    add('--memory-swap', u.memorySwap);
    add('--cpu-quota', u.cpuQuota);
    add('--cpu-period', u.cpuPeriod);
    add('--cpu-share', u.cpuShares);
    add('--pids-limit', u.pidsLimit);
    if (args.length === 0) return;
    this.#check('update', await this.#run(['update', ...args, id]));
  }

  #check(command: string, r: RunResult): void {
    if (r.code === 0) return;
    const line = r.stderr.split('\n').reverse().find((l) => ERROR_LINE.test(l));
    if (line) {
      try {
        const e = JSON.parse(line) as { msg?: unknown; errno?: unknown };
        const msg = typeof e.msg === 'string' ? e.msg : line;
        throw new NodeAgentError(command, msg, typeof e.errno === 'number' ? e.errno : 0, r.code);
      } catch (err) {
        if (err instanceof NodeAgentError) throw err;
      }
    }
    const how = r.code !== null ? `exited ${r.code}` : `was killed by ${r.signal ?? 'a signal'}`;
    const detail = r.stderr.trim().slice(0, 500);
    throw new NodeAgentError(command, `node-agent ${command} ${how}${detail ? `: ${detail}` : ''}`, 0, r.code);
  }

  async #run(args: string[], output: SpawnOutput = { capture: true }): Promise<RunResult> {
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    let r;
    try {
      r = await this.#spawner.run([this.binary, '--root', this.root, '--log-format', 'json', ...args], output, this.#timeoutMs);
    } catch (e) {
      throw new NodeAgentError(args.find((a) => !a.startsWith('-')) ?? '', `cannot run ${this.binary}: ${(e as Error).message}`, 0, null);
    }
    const stderr = r.timedOut ? `${r.stderr}\n(timed out after ${this.#timeoutMs} ms)` : r.stderr;
    return { code: r.code, signal: r.signal, stdout: r.stdout, stderr };
  }
}

function parseState(text: string, command: string): ContainerState {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new NodeAgentError(command, `${command}: output is not JSON: ${text.slice(0, 200)}`, 0, 0);
  }
  const o = v as Partial<ContainerState>;
  if (typeof o !== 'object' || o === null || typeof o.id !== 'string' || typeof o.status !== 'string') {
    throw new NodeAgentError(command, `${command}: unexpected state ${text.slice(0, 200)}`, 0, 0);
  }
  return {
    ociVersion: String(o.ociVersion ?? ''),
    id: o.id,
    status: o.status,
    pid: typeof o.pid === 'number' ? o.pid : 0,
    bundle: String(o.bundle ?? ''),
    created: String(o.created ?? ''),
    annotations: o.annotations && typeof o.annotations === 'object' ? o.annotations : {},
    ...(typeof o.oomKills === 'number' ? { oomKills: o.oomKills } : {}),
  };
}
