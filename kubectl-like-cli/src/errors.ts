// How skctl reports failures: the server's Status message, kubectl-style, with each field path
// of an Invalid on its own line; exit codes.

import { ApiError, ConnectionError, InvalidError, UnknownKindError } from '@sandkasten/client';

/** A failure with a message for the user and an exit code; no stack trace is printed. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** The lines that describe an error (without trailing newline). */
export function describeError(e: unknown): string {
  if (e instanceof InvalidError) {
    const msg = e.message;
    // "X "n" is invalid: [a: …, b: …]" — the head, then one line per cause.
    const head = msg.includes(' is invalid:') ? msg.slice(0, msg.indexOf(' is invalid:') + ' is invalid:'.length) : `${msg}:`;
    const lines = [`error: ${head}`];
    if (e.causes.length === 0) lines[0] = `error: ${msg}`;
    for (const c of e.causes) lines.push(`  * ${c.field ? `${c.field}: ` : ''}${c.message ?? c.reason ?? ''}`);
    return lines.join('\n');
  }
  if (e instanceof ApiError) return `Error from server (${e.reason}): ${e.message}`;
  if (e instanceof ConnectionError || e instanceof UnknownKindError || e instanceof CliError) return `error: ${e.message}`;
  if (e instanceof Error && (e.name === 'JsonPathError' || e.name === 'YAMLParseError')) return `error: ${e.message}`;
  if (e instanceof Error) return `error: ${e.message}`;
  return `error: ${String(e)}`;
}

/** The exit code for an error. */
export function exitCodeOf(e: unknown): number {
  return e instanceof CliError ? e.exitCode : 1;
}
