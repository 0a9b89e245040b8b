// The TUI's view of a session's terminal, on the client's attach (@sandkasten/client: the one
// WebSocket client of the CLI and the SDK, also behind `skctl exec -it`). This module keeps the
// TUI's names: attachUrl() for display, refusals as AttachError with the HTTP status and the
// server's message as skctl prints it ("Error from server (NotFound): …"), and a detach key.

import { ApiError, ConnectionError, openAttach as sdkOpenAttach, resolveKind, resourcePath, runTerminal, DETACH_BYTE } from '@sandkasten/client';
import type { AttachEnd, AttachTarget, TerminalConnection, TerminalIo, TerminalSize } from '@sandkasten/client';

export { DETACH_BYTE, runTerminal };
export type { AttachEnd, AttachTarget, TerminalIo, TerminalSize };

const SESSIONS = resolveKind('sessions');

/** The attach URL of a session (ws:// or wss://, keeping a base path). */
export function attachUrl(t: AttachTarget, size?: TerminalSize): URL {
  const u = new URL(t.baseUrl);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = u.pathname.replace(/\/+$/, '') + resourcePath(SESSIONS, t.namespace, t.name, 'attach');
  u.search = '';
  if (size) {
    u.searchParams.set('cols', String(clampDim(size.cols)));
    u.searchParams.set('rows', String(clampDim(size.rows)));
  }
  return u;
}

export class AttachError extends Error {
  override readonly name = 'AttachError';
  constructor(
    message: string,
    /** The HTTP status of a refused upgrade (0: no answer). */
    readonly statusCode = 0,
    readonly reason?: string,
  ) {
    super(message);
  }
}

/** Opens the terminal; resolves once it is open. */
export async function openAttach(t: AttachTarget, opts: { size?: TerminalSize; signal?: AbortSignal; timeoutMs?: number } = {}): Promise<TerminalConnection> {
  try {
    return await sdkOpenAttach(t, opts);
  } catch (e) {
    if (e instanceof ApiError) throw new AttachError(`Error from server (${e.reason}): ${e.message}`, e.code, e.reason);
    if (e instanceof ConnectionError) throw new AttachError(`cannot attach to ${t.namespace}/${t.name}: ${e.message} (${e.code})`);
    throw new AttachError(`cannot attach to ${t.namespace}/${t.name}: ${(e as Error).message}`);
  }
}

function clampDim(n: number): number {
  return Math.min(1000, Math.max(1, Math.floor(n) || 1));
}
