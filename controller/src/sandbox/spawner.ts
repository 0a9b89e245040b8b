// How node-agent is run. `child_process.spawn` forks the whole daemon (libuv forks, then execs):
// copying the page tables of a 100–250 MB Node process takes 2–10 ms, all of it with the event
// loop standing still, and every page the daemon writes afterwards takes a copy-on-write fault.
// So a tiny /bin/sh, started once, does the forking: a request line goes down a pipe, the
// command runs with its output in files, and its pid and exit status come back up another pipe.
// The daemon's event loop spends microseconds per call, whatever its size.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';

export interface SpawnResult {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Killed after the time limit. */
  timedOut: boolean;
}

/**
 * Where the command's stdout and stderr go: returned, or appended to a file (a container made by
 * `create`/`run` inherits them, so they must never be a pipe that outlives the call).
 */
export type SpawnOutput = { capture: true } | { appendTo: string };

export interface Spawner {
  /** Runs argv[0] (an absolute path) with stdin from /dev/null; SIGKILL after timeoutMs. */
  run(argv: readonly string[], output: SpawnOutput, timeoutMs: number): Promise<SpawnResult>;
  /** Ends the helper process, if any (calls in flight finish). */
  close(): void;
}

/** child_process.spawn for every call: a fork of the daemon each. */
export class DirectSpawner implements Spawner {
  run(argv: readonly string[], output: SpawnOutput, timeoutMs: number): Promise<SpawnResult> {
    const fd = 'appendTo' in output ? openSync(output.appendTo, 'a', 0o600) : undefined;
    return new Promise<SpawnResult>((resolve, reject) => {
      const child = spawn(argv[0]!, argv.slice(1), { stdio: fd === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', fd, fd] });
      let stdout = '';
      let stderr = '';
      child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      // 'close' (not 'exit'): the pipes' data is complete. With file stdio there are no pipes.
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr, timedOut });
      });
    }).finally(() => {
      if (fd !== undefined) closeSync(fd);
    });
  }

  close(): void {}
}

// The helper. Each request is one line: `id mode out err argv…`, every word single-quoted (a
// newline inside one travels as "$nl"), so `eval "set -- $line"` gives the words back exactly.
// A subshell per request starts the command in the background (stdin /dev/null, the response
// pipe closed for it), reports its pid, waits (quietly: a shell says "Killed" when it waits for
// a command killed by a signal), and reports its status; dash reaps the
// subshells. Lines shorter than PIPE_BUF are written atomically, so reports never interleave.
// At EOF (the daemon closed the pipe or died) the loop ends; commands in flight finish.
const SCRIPT = `nl='
'
while IFS= read -r line; do
  eval "set -- $line"
  (
    id=$1 mode=$2 out=$3 err=$4
    shift 4
    if [ "$mode" = a ]; then
      "$@" </dev/null >>"$out" 2>&1 3>&- &
    else
      "$@" </dev/null >"$out" 2>"$err" 3>&- &
    fi
    p=$!
    echo "$id pid $p" >&3
    wait "$p" 2>/dev/null
    echo "$id exit $?" >&3
  ) &
done
`;

function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`).replaceAll('\n', `'"$nl"'`)}'`;
}

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

interface Call {
  out: string | undefined;
  err: string;
  pid: number;
  timedOut: boolean;
  timer: NodeJS.Timeout;
  resolve(r: SpawnResult): void;
  reject(e: Error): void;
}

const IO_PREFIX = '.node-agent-io-';

/**
 * Runs commands through one long-lived /bin/sh (started at the first call, again after it died).
 * Output files live in a private directory under `ioParent` (named with this process's pid, so
 * those of dead processes are removed when a helper starts).
 */
export class ShellSpawner implements Spawner {
  readonly #ioParent: string;
  #helper: Helper | undefined;
  #io: string | undefined;
  #seq = 0;

  constructor(ioParent: string) {
    this.#ioParent = ioParent;
  }

  static available(): boolean {
    return existsSync('/bin/sh');
  }

  run(argv: readonly string[], output: SpawnOutput, timeoutMs: number): Promise<SpawnResult> {
    if (!this.#io) {
      mkdirSync(this.#ioParent, { recursive: true, mode: 0o700 });
      removeStaleIo(this.#ioParent);
      this.#io = mkdtempSync(join(this.#ioParent, `${IO_PREFIX}${process.pid}-`));
      removeAtExit(this.#io, true);
    }
    if (!this.#helper?.alive) this.#helper = new Helper();
    const id = String(++this.#seq);
    const out = 'appendTo' in output ? undefined : join(this.#io, `${id}.out`);
    return this.#helper.run(id, argv, out, 'appendTo' in output ? output.appendTo : undefined, join(this.#io, `${id}.err`), timeoutMs);
  }

  close(): void {
    const h = this.#helper;
    this.#helper = undefined;
    const io = this.#io;
    this.#io = undefined;
    if (!io) return;
    removeAtExit(io, false);
    // The directory goes once the calls in flight have been answered.
    if (h) h.end(() => rmSync(io, { recursive: true, force: true }));
    else rmSync(io, { recursive: true, force: true });
  }
}

/** One /bin/sh and the calls it has been given. */
class Helper {
  readonly #proc: ChildProcess;
  readonly #calls = new Map<string, Call>();
  readonly #reports: Socket;
  #buf = '';
  #dead = false;
  #ended: (() => void) | undefined;

  constructor() {
    const proc = spawn('/bin/sh', ['-c', SCRIPT], { stdio: ['pipe', 'ignore', 'inherit', 'pipe'] });
    this.#proc = proc;
    // An idle helper does not keep the daemon alive; the reports pipe does while calls wait.
    proc.unref();
    const stdin = proc.stdin as Socket;
    const reports = proc.stdio[3] as Socket;
    stdin.unref();
    reports.unref();
    this.#reports = reports;
    stdin.on('error', () => {}); // EPIPE once the shell is gone: its 'close' fails the calls
    reports.setEncoding('utf8').on('data', (d: string) => this.#onReports(d));
    proc.once('error', (e) => this.#gone(`cannot run /bin/sh: ${e.message}`));
    // A helper that died takes no new calls; those it started still report (each subshell holds
    // the reports pipe) until the pipe closes, which 'close' says: then what was not reported is lost.
    proc.once('exit', () => (this.#dead = true));
    proc.once('close', (code, signal) => this.#gone(`the node-agent helper shell ended (${signal ?? `exit ${code}`}) before the command reported`));
  }

  get alive(): boolean {
    return !this.#dead && this.#ended === undefined;
  }

  run(id: string, argv: readonly string[], out: string | undefined, appendTo: string | undefined, err: string, timeoutMs: number): Promise<SpawnResult> {
    const words = [id, out === undefined ? 'a' : 'c', out ?? appendTo!, err, ...argv];
    return new Promise<SpawnResult>((resolve, reject) => {
      const call: Call = {
        out,
        err,
        pid: 0,
        timedOut: false,
        timer: setTimeout(() => {
          call.timedOut = true;
          // Before its pid is known, the kill happens when it comes.
          if (call.pid > 0) kill(call.pid);
        }, timeoutMs),
        resolve,
        reject,
      };
      this.#calls.set(id, call);
      if (this.#calls.size === 1) this.#reports.ref();
      (this.#proc.stdin as Socket).write(`${words.map(shQuote).join(' ')}\n`);
    });
  }

  /** EOF to the shell; `then` once every call has been answered. */
  end(then: () => void): void {
    this.#ended = then;
    this.#proc.stdin?.end();
    this.#settled();
  }

  #onReports(d: string): void {
    this.#buf += d;
    let nl: number;
    while ((nl = this.#buf.indexOf('\n')) >= 0) {
      const [id, kind, value] = this.#buf.slice(0, nl).split(' ');
      this.#buf = this.#buf.slice(nl + 1);
      const c = this.#calls.get(id ?? '');
      if (!c) continue;
      const n = Number(value);
      if (kind === 'pid') {
        c.pid = n;
        if (c.timedOut) kill(n);
      } else if (kind === 'exit') {
        this.#calls.delete(id!);
        clearTimeout(c.timer);
        // The shell reports a death by signal N as 128 + N.
        const signal = n > 128 ? (SIGNAL_NAMES.get(n - 128) ?? null) : null;
        c.resolve({ code: signal ? null : n, signal, stdout: take(c.out), stderr: take(c.err), timedOut: c.timedOut });
      }
    }
    this.#settled();
  }

  #gone(why: string): void {
    this.#dead = true;
    // Those commands may still run, unobserved.
    for (const c of this.#calls.values()) {
      clearTimeout(c.timer);
      c.reject(new Error(why));
    }
    this.#calls.clear();
    this.#settled();
  }

  #settled(): void {
    if (this.#calls.size === 0) this.#reports.unref();
    if (this.#ended && this.#calls.size === 0) {
      const then = this.#ended;
      this.#ended = () => {};
      then();
    }
  }
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** The file's text, then the file removed ('' when the command wrote nothing or it is not ours). */
function take(file: string | undefined): string {
  if (file === undefined) return '';
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // not created: the shell could not start the command
  }
  rmSync(file, { force: true });
  return text;
}

const ioDirs = new Set<string>();
let exitHooked = false;

/** The output directories of this process go with it (a crash leaves them to removeStaleIo). */
function removeAtExit(dir: string, add: boolean): void {
  if (!add) {
    ioDirs.delete(dir);
    return;
  }
  if (!exitHooked) {
    exitHooked = true;
    process.once('exit', () => {
      for (const d of ioDirs) rmSync(d, { recursive: true, force: true });
    });
  }
  ioDirs.add(dir);
}

/** Output directories of processes that no longer exist. */
function removeStaleIo(parent: string): void {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(IO_PREFIX)) continue;
    const pid = Number(name.slice(IO_PREFIX.length).split('-')[0]);
    if (!Number.isInteger(pid) || pid <= 0 || alive(pid)) continue;
    rmSync(join(parent, name), { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
