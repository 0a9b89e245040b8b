// Request bodies and fields of the /v1 API. Bodies are JSON whatever the Content-Type (the
// original decoded them so), at most 2 MiB; unknown fields are ignored as the original's decoder
// ignored them, while a known field of the wrong type or out of range is INVALID_REQUEST naming it.

import type { IncomingMessage } from 'node:http';
import { ApiError } from '../apiserver/errors.js';
import { readBody } from '../apiserver/body.js';
import { invalid } from './errors.js';

/** The original's cap on JSON bodies. */
export const MAX_JSON_BODY_BYTES = 2 * 1024 * 1024;

export type Fields = Record<string, unknown>;

/**
 * The body as a JSON object. An empty body is `{}` when `emptyOk` (a create with every field
 * defaulted), else INVALID_REQUEST.
 */
export async function readJsonObject(req: IncomingMessage, emptyOk = false): Promise<Fields> {
  let raw: Buffer | undefined;
  try {
    raw = (await readBody(req, MAX_JSON_BODY_BYTES)).raw;
  } catch (e) {
    if (e instanceof ApiError && e.status === 413) {
      throw invalid(`request body too large: the limit is ${MAX_JSON_BODY_BYTES} bytes`, { max_bytes: MAX_JSON_BODY_BYTES });
    }
    if (e instanceof ApiError) throw invalid(e.message);
    throw e;
  }
  if (!raw || raw.toString('utf8').trim() === '') {
    if (emptyOk) return {};
    throw invalid('a JSON object body is required');
  }
  let v: unknown;
  try {
    v = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw invalid(`invalid json: ${(e as Error).message}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalid('invalid json: the body must be a JSON object');
  return v as Fields;
}

/** A string field; undefined when absent or null. */
export function optString(b: Fields, name: string): string | undefined {
  const v = b[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalid(`${name} must be a string`, { field: name });
  return v;
}

/** An integer field in [min, max]; undefined when absent or null. */
export function optInt(b: Fields, name: string, min: number, max: number, unit = ''): number | undefined {
  const v = b[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw invalid(`${name} must be an integer${unit}`, { field: name });
  if (v < min || v > max) throw invalid(`${name} must be between ${min} and ${max}${unit}, got ${v}`, { field: name, min, max });
  return v;
}

export function optBool(b: Fields, name: string): boolean | undefined {
  const v = b[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalid(`${name} must be true or false`, { field: name });
  return v;
}

/** The original's workspace id rule: `^[a-z0-9][a-z0-9-]*[a-z0-9]$`, 2–64 characters. */
export function checkWorkspaceId(id: string, field = 'workspace_id'): string {
  if (id.length < 2) throw invalid(`${field} must be at least 2 characters`, { field });
  if (id.length > 64) throw invalid(`${field} must not exceed 64 characters`, { field });
  if (!/^[a-z0-9][a-z0-9-]*[a-z0-9]$/.test(id)) {
    throw invalid(`${field} must contain only lowercase letters, numbers, and hyphens, and cannot start or end with a hyphen`, { field });
  }
  return id;
}

/** A session id names a Session: a DNS-1123 subdomain. Anything else cannot name one. */
export function checkSessionId(id: string): string {
  if (id.length === 0 || id.length > 253 || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(id)) {
    throw invalid(`invalid session id ${JSON.stringify(id.slice(0, 300))}`, { field: 'id' });
  }
  return id;
}
