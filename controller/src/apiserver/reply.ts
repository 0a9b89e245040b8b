// Writing responses on plain node:http: one writeHead and one end per reply, so a small response
// leaves in a single write. Used by the resource handlers and by the error path of both layers.

import type { ServerResponse } from 'node:http';

export const JSON_TYPE = 'application/json';

/** Sends `body` with a Content-Length; `warnings` become `Warning: 299 - "…"` headers. */
export function sendText(res: ServerResponse, status: number, body: string, contentType = JSON_TYPE, warnings?: readonly string[]): void {
  const headers: Record<string, string | number | string[]> = {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(body),
  };
  if (warnings && warnings.length > 0) headers.Warning = warnings.map((w) => `299 - ${JSON.stringify(w)}`);
  res.writeHead(status, headers);
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, contentType = JSON_TYPE, warnings?: readonly string[]): void {
  sendText(res, status, JSON.stringify(value), contentType, warnings);
}
