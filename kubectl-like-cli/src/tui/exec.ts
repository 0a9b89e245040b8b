// A command in a session's persistent shell, its output streamed as it comes:
// POST …/sessions/NAME/exec with Accept: application/x-ndjson answers one JSON object per line —
// {"type":"output","data"} chunks, then {"type":"result",…} (or {"type":"error","status"} when
// something failed after the headers went out). Aborting the signal closes the request, which
// the daemon takes as an interrupt of the command.

import { ApiError, errorFromStatus, resolveKind, resourcePath, type SandboxClient, type Status } from '@sandkasten/client';

export interface ExecResult {
  exitCode: number;
  cwd?: string;
  truncated?: boolean;
  timedOut?: boolean;
  durationMs?: number;
  shellRestarted?: boolean;
  shellExited?: boolean;
}

export type ExecEvent = { type: 'output'; data: string } | { type: 'result'; result: ExecResult };

const SESSIONS = resolveKind('sessions');

export async function* execStream(
  client: SandboxClient,
  namespace: string,
  name: string,
  command: string,
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): AsyncGenerator<ExecEvent, void, undefined> {
  const body: Record<string, unknown> = { command };
  if (opts.timeoutMs !== undefined) body.timeoutMs = opts.timeoutMs;
  const res = await client.transport.stream({
    method: 'POST',
    path: resourcePath(SESSIONS, namespace, name, 'exec'),
    headers: { accept: 'application/x-ndjson', 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: opts.signal,
  });
  try {
    if (res.status !== 200) throw statusError(res.status, await res.text());
    const decoder = new TextDecoder();
    let pending = '';
    let done = false;
    const handle = function* (line: string): Generator<ExecEvent> {
      if (line.trim() === '') return;
      let ev: { type?: string; data?: unknown; status?: Status } & Record<string, unknown>;
      try {
        ev = JSON.parse(line) as typeof ev;
      } catch {
        throw new Error(`malformed exec stream line: ${line.slice(0, 200)}`);
      }
      if (ev.type === 'output' && typeof ev.data === 'string') yield { type: 'output', data: ev.data };
      else if (ev.type === 'result') {
        const { type: _t, ...result } = ev;
        done = true;
        yield { type: 'result', result: result as unknown as ExecResult };
      } else if (ev.type === 'error' && ev.status) throw errorFromStatus({ ...ev.status, code: ev.status.code ?? 500 });
    };
    for await (const chunk of res.body) {
      pending += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        yield* handle(line);
      }
    }
    yield* handle(pending + decoder.decode());
    if (!done && !opts.signal?.aborted) throw new Error('the exec stream ended without a result (the connection was lost)');
  } finally {
    res.close();
  }
}

/** An error answer as the client's typed error (the server's Status message). */
function statusError(code: number, text: string): Error {
  try {
    const s = JSON.parse(text) as Status;
    if (s && s.kind === 'Status') return errorFromStatus({ ...s, code: s.code ?? code });
  } catch {
    // not a Status
  }
  return new ApiError({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason: 'Unknown', message: `HTTP ${code}: ${text.slice(0, 200)}` });
}
