// How skctl reports failures: the server's Status message, kubectl-style, with each field path
// of an Invalid on its own line; exit codes. The client's error classes are recognised by shape,
// not imported: commands that never talk to the server (help, config) then load no client.

import type { ApiError } from '@sandkasten/client';

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
  if (isApiError(e) && e.name === 'InvalidError') {
    const msg = e.message;
    // "X "n" is invalid: [a: …, b: …]" — the head, then one line per cause.
    const head = msg.includes(' is invalid:') ? msg.slice(0, msg.indexOf(' is invalid:') + ' is invalid:'.length) : `${msg}:`;
    const lines = [`error: ${head}`];
    if (e.causes.length === 0) lines[0] = `error: ${msg}`;
    for (const c of e.causes) lines.push(`  * ${c.field ? `${c.field}: ` : ''}${c.message ?? c.reason ?? ''}`);
    return lines.join('\n');
  }
  if (isApiError(e)) return `Error from server (${e.reason}): ${e.message}`;
  if (e instanceof Error) return `error: ${e.message}`;
  return `error: ${String(e)}`;
}

/** The exit code for an error. */
export function exitCodeOf(e: unknown): number {
  return e instanceof CliError ? e.exitCode : 1;
}

/** An ApiError of @sandkasten/client (it carries the server's Status). */
export function isApiError(e: unknown): e is ApiError {
  const s = (e as { status?: { kind?: unknown } } | null)?.status;
  return e instanceof Error && typeof s === 'object' && s !== null && s.kind === 'Status' && typeof (e as ApiError).reason === 'string';
}
