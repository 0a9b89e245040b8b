// One HTTP(S) request to a registry with node:http/https: keep-alive agents, an idle timeout,
// abort by signal, TLS verification that can be turned off for insecure registries.

import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';

const agents = {
  http: new http.Agent({ keepAlive: true, maxSockets: 16 }),
  https: new https.Agent({ keepAlive: true, maxSockets: 16 }),
  httpsInsecure: new https.Agent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: false }),
};

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Skip TLS certificate verification (insecure_registries and loopback only). */
  insecureTls?: boolean;
  signal?: AbortSignal;
  /** No byte for this long (connect, headers or body) fails the request. Default 60 s. */
  idleTimeoutMs?: number;
}

export class NetworkError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'NetworkError';
  }
}

/** Sends the request; resolves with the response (its body not read yet). */
export function request(url: URL, o: RequestOptions = {}): Promise<IncomingMessage> {
  const isHttps = url.protocol === 'https:';
  const mod = isHttps ? https : http;
  const agent = isHttps ? (o.insecureTls ? agents.httpsInsecure : agents.https) : agents.http;
  const idle = o.idleTimeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    if (o.signal?.aborted) return reject(o.signal.reason ?? new Error('aborted'));
    const req = mod.request(url, { method: o.method ?? 'GET', headers: { 'user-agent': 'sandkasten', ...o.headers }, agent });
    const onAbort = () => req.destroy(o.signal?.reason instanceof Error ? o.signal.reason : new Error('aborted'));
    o.signal?.addEventListener('abort', onAbort, { once: true });
    req.setTimeout(idle, () => req.destroy(new NetworkError(`${url.host}: no answer for ${Math.round(idle / 1000)} s`, 'ETIMEDOUT')));
    req.on('response', (res) => {
      // The idle timeout goes on covering the body: the socket keeps its timeout while it is read.
      res.once('close', () => o.signal?.removeEventListener('abort', onAbort));
      resolve(res);
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      o.signal?.removeEventListener('abort', onAbort);
      if (e instanceof NetworkError || o.signal?.aborted) return reject(e);
      reject(new NetworkError(`${url.protocol}//${url.host}: ${e.message}`, e.code));
    });
    req.end();
  });
}

/** Reads a whole response body, refusing more than `limit` bytes. */
export async function readBody(res: IncomingMessage, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) {
      res.destroy();
      throw new NetworkError(`${what}: larger than ${limit} bytes`, 'E2BIG');
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** Whether a connection error means "this port speaks plain HTTP, not TLS". */
export function isTlsMismatch(e: unknown): boolean {
  const code = (e as NetworkError).code ?? '';
  const msg = (e as Error).message ?? '';
  return code === 'EPROTO' || code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ECONNRESET' || /wrong version number|packet length too long|http request/i.test(msg);
}
