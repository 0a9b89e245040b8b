// Bearer-token authentication. The token is compared in constant time over equal-length digests,
// so neither its content nor its length leaks through timing.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { errors } from './errors.js';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Checks `Authorization: Bearer <apiKey>`; an empty apiKey means the API is open. */
export function bearerAuth(apiKey: string): RequestHandler {
  if (!apiKey) return (_req, _res, next) => next();
  const want = digest(apiKey);
  return (req, _res, next) => {
    const m = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '');
    const got = digest(m ? m[1]! : '');
    // Always compare, so a missing header costs the same as a wrong one.
    const equal = timingSafeEqual(got, want);
    if (!m || !equal) throw errors.unauthorized();
    next();
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
