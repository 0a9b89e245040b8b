// Bearer-token authentication. The token is compared in constant time over equal-length digests,
// so neither its content nor its length leaks through timing.

import { hash, timingSafeEqual } from 'node:crypto';

const digest = (s: string) => hash('sha256', s, 'buffer');

/**
 * A check of the Authorization header against `Bearer <apiKey>`; undefined when apiKey is empty
 * (the API is open).
 */
export function bearerCheck(apiKey: string): ((authorization: string | undefined) => boolean) | undefined {
  if (!apiKey) return undefined;
  const want = digest(apiKey);
  return (authorization) => {
    const m = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
    // Always compare, so a missing header costs the same as a wrong one.
    const equal = timingSafeEqual(digest(m ? m[1]! : ''), want);
    return m !== null && equal;
  };
}

/** Is this listen host a loopback address (where an open API is acceptable)? */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/** Splits "host:port" / "[v6]:port" / ":port" (all interfaces). */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(listen.trim());
  if (!m) throw new Error(`invalid listen address ${JSON.stringify(listen)}: expected host:port, e.g. 127.0.0.1:8080`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`invalid listen address ${JSON.stringify(listen)}: port out of range`);
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? '0.0.0.0' : host, port };
}
