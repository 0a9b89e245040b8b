// skctl exec NAME -- CMD…       a command in the session's persistent shell, its output streamed,
//                               its exit code skctl's own
// skctl exec -it NAME [-- CMD…] an interactive terminal over the attach WebSocket: raw mode,
//                               window size changes, Ctrl-] detaches
//
// One argument after NAME is a shell command line as it is (`skctl exec box -- 'cd /x && make'`);
// several are words, each quoted, as kubectl passes argv (`skctl exec box -- sh -c 'exit 3'`).

import { Writable } from 'node:stream';
import type { SandboxSession } from '@sandkasten/client';
import { makeClient, type GlobalOptions } from '../connection.js';
import { CliError } from '../errors.js';
import { parseDuration } from '../util.js';

export interface ExecOptions {
  stdin?: boolean;
  tty?: boolean;
  timeout?: string;
}

export async function runExec(args: string[], o: ExecOptions, g: GlobalOptions): Promise<number> {
  const [target, ...words] = args;
  if (!target) throw new CliError('a session name is required: skctl exec NAME -- COMMAND (or skctl exec -it NAME for a shell)');
  const name = sessionName(target);
  const interactive = Boolean(o.stdin || o.tty);
  if (interactive && !(o.stdin && o.tty)) {
    throw new CliError('an interactive exec needs both -i and -t (-it): the session\'s terminal is a PTY with your keyboard on it');
  }
  if (!interactive && words.length === 0) {
    throw new CliError(`a command is required: skctl exec ${name} -- COMMAND… (or skctl exec -it ${name} for an interactive shell)`);
  }
  const timeoutMs = o.timeout !== undefined ? parseDuration(o.timeout, '--timeout') : undefined;
  if (timeoutMs !== undefined && timeoutMs <= 0) throw new CliError('--timeout must be positive');
  if (interactive && timeoutMs !== undefined) throw new CliError('--timeout applies to commands, not to interactive terminals');
  const command = words.length === 0 ? undefined : words.length === 1 ? words[0]! : words.map(shellQuote).join(' ');
  if (command !== undefined && command.trim() === '') throw new CliError('the command is empty');

  const { client, conn } = await makeClient(g);
  try {
    const { SandboxSession } = await import('@sandkasten/client');
    const session = new SandboxSession(client, { apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name, namespace: conn.namespace } });
    return interactive ? await terminal(session, command) : await stream(session, command!, timeoutMs);
  } finally {
    client.close();
  }
}

/** Runs the command with its output streamed to stdout; Ctrl-C interrupts it. */
async function stream(session: SandboxSession, command: string, timeoutMs: number | undefined): Promise<number> {
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigint);
  try {
    const s = session.execStream(command, { binary: true, timeoutMs, signal: ac.signal });
    for await (const chunk of s) {
      if (!process.stdout.write(chunk)) await new Promise<void>((r) => process.stdout.once('drain', () => r()));
    }
    const r = await s.result;
    if (r.shellRestarted) process.stderr.write(`Warning: the shell of session ${session.name} had exited and was started again: its state (directory, variables) is new\n`);
    if (r.timedOut) process.stderr.write(`error: the command ran out of time (${timeoutMs !== undefined ? `--timeout ${timeoutMs / 1000}s` : 'the daemon\'s maximum'}) and was interrupted\n`);
    if (r.truncated) process.stderr.write('Warning: the output was longer than the daemon keeps and was cut\n');
    return r.exitCode;
  } catch (e) {
    if (ac.signal.aborted) {
      process.stderr.write('^C (the command was interrupted)\n');
      return 130;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}

/** Printed by the shell just before the command runs; the echo of the typed line is hidden up to it. */
const MARK = '\x1esk-run\x1e';
const MARK_TYPED = "printf '\\036sk-run\\036'";
/** Output kept back while waiting for the mark; shown anyway after this long. */
const MARK_WAIT_MS = 10_000;

/** An interactive terminal: the login shell, or a command typed into it. */
async function terminal(session: SandboxSession, command: string | undefined): Promise<number> {
  const { runTerminal } = await import('@sandkasten/client');
  const stdin = process.stdin;
  const stdout = process.stdout;
  const tty = stdin.isTTY === true;
  const size = () => ({ cols: stdout.columns || 80, rows: stdout.rows || 24 });
  const term = await session.attach({ size: size() });

  // With a command, the login shell is told `printf MARK; exec SHELL -c 'COMMAND'` (bash when it
  // is bash, else sh): everything before the mark (the prompt, the echo of that line) is not
  // shown, and the command's exit code ends the terminal.
  const output = command === undefined ? stdout : hideUntilMark(stdout);
  if (command !== undefined) term.write(` ${MARK_TYPED}; exec "\${BASH:-/bin/sh}" -c ${shellQuote(command)}\r`);

  const restore = () => {
    if (tty && stdin.isRaw) stdin.setRawMode(false);
  };
  const onSignal = () => term.detach();
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  process.on('exit', restore);
  if (tty) stdin.setRawMode(true);
  // Piped input: its end is Ctrl-D, so `echo 'ls; exit' | skctl exec -it …` ends too.
  const onEnd = () => term.open && term.write('\x04');
  if (!tty) stdin.once('end', onEnd);
  let end;
  try {
    end = await runTerminal(term, { input: stdin, output, size, resizeSource: stdout });
  } finally {
    restore();
    stdin.off('end', onEnd);
    stdin.pause();
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    process.off('exit', restore);
    if (output !== stdout) output.end();
  }
  switch (end.reason) {
    case 'exit':
      return end.signal ? 128 + end.signal : end.exitCode;
    case 'detached':
      process.stderr.write(`\r\n[detached from ${session.namespace}/${session.name}]\r\n`);
      return 0;
    default:
      process.stderr.write(`\r\nerror: the terminal of ${session.namespace}/${session.name} closed: ${end.message}\r\n`);
      return 1;
  }
}

/** A writable in front of `out` that drops everything up to and including MARK. */
function hideUntilMark(out: NodeJS.WriteStream): Writable {
  let held = Buffer.alloc(0);
  let passing = false;
  const mark = Buffer.from(MARK, 'latin1');
  const forward = (chunk: Buffer, cb: () => void) => {
    if (chunk.length === 0 || out.write(chunk)) cb();
    else out.once('drain', cb);
  };
  const timer = setTimeout(() => {
    if (passing) return;
    passing = true;
    out.write(held);
    held = Buffer.alloc(0);
  }, MARK_WAIT_MS);
  timer.unref();
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (passing) return forward(chunk, cb);
      held = Buffer.concat([held, chunk]);
      const at = held.indexOf(mark);
      if (at < 0) return cb();
      passing = true;
      clearTimeout(timer);
      const rest = held.subarray(at + mark.length);
      held = Buffer.alloc(0);
      forward(rest, cb);
    },
    final(cb) {
      clearTimeout(timer);
      cb();
    },
  });
}

/** A word for a POSIX shell: as it is when safe, else in single quotes. */
export function shellQuote(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The session a command names: NAME, or KIND/NAME with KIND a name of sessions. */
export function sessionName(arg: string): string {
  const slash = arg.indexOf('/');
  if (slash < 0) return checkName(arg);
  const kind = arg.slice(0, slash).toLowerCase();
  if (!['session', 'sessions', 'ses', 'sess', 'session.sandkasten.dev', 'sessions.sandkasten.dev'].includes(kind)) {
    throw new CliError(`${JSON.stringify(arg)} does not name a session (use NAME or session/NAME)`);
  }
  return checkName(arg.slice(slash + 1));
}

function checkName(name: string): string {
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) || name.length > 253) {
    throw new CliError(`invalid session name ${JSON.stringify(name)}: a lowercase DNS name is expected`);
  }
  return name;
}
