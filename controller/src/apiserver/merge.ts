// The merge logic behind PATCH and apply: RFC 7386 merge patch, RFC 6902 JSON patch (via
// fast-json-patch) and the three-way merge of server-side apply.

import jsonPatch from 'fast-json-patch';
import { ApiError, errors } from './errors.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => Object.prototype.hasOwnProperty.call(bo, k) && deepEqual(ao[k], bo[k]));
}

export function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

/** Own-property assignment that cannot reach a prototype (a JSON key may be "__proto__"). */
function setOwn(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

/** RFC 7386: objects merge recursively, null deletes, anything else replaces. Returns a new value. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else setOwn(out, k, mergePatch(out[k], v));
  }
  return out;
}

/**
 * The three-way merge of apply: fields named by the new applied configuration are set; fields the
 * same manager applied last time but no longer names are removed; everything else in `current`
 * (status, fields other writers set) is kept. Maps merge key by key; lists and scalars are atomic.
 */
export function applyMerge(current: unknown, lastApplied: unknown, applied: unknown): unknown {
  if (!isObject(applied)) return clone(applied);
  const out: Record<string, unknown> = isObject(current) ? { ...current } : {};
  if (isObject(lastApplied)) {
    for (const k of Object.keys(lastApplied)) {
      if (!(k in applied) || applied[k] === null) delete out[k];
    }
  }
  for (const [k, v] of Object.entries(applied)) {
    if (v === null) {
      delete out[k];
      continue;
    }
    setOwn(out, k, applyMerge(out[k], isObject(lastApplied) ? lastApplied[k] : undefined, v));
  }
  return out;
}

/** RFC 6902 on a copy of `doc`; a malformed patch is 400, an operation that cannot apply is 422. */
export function applyJsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw errors.badRequest('a JSON patch must be an array of operations');
  for (const [i, op] of ops.entries()) {
    if (!isObject(op) || typeof op.op !== 'string' || typeof op.path !== 'string') {
      throw errors.badRequest(`invalid JSON patch operation ${i}: each operation needs "op" and "path" strings`);
    }
  }
  try {
    const validate = true;
    return jsonPatch.applyPatch(clone(doc), ops as jsonPatch.Operation[], validate, true, true).newDocument;
  } catch (e) {
    if (e instanceof ApiError) throw e;
    const err = e as { name?: string; message?: string; index?: number; operation?: { op?: string; path?: string } };
    const where = err.operation ? ` (operation ${err.index ?? '?'}: ${err.operation.op} ${err.operation.path})` : '';
    const first = (err.message ?? 'failed').split('\n')[0];
    if (err.name === 'TEST_OPERATION_FAILED') {
      throw new ApiError(422, 'Invalid', `the JSON patch test operation failed${where}`);
    }
    if (err.name === 'OPERATION_OP_INVALID' || err.name === 'SEQUENCE_NOT_AN_ARRAY' || err.name === 'OPERATION_NOT_AN_OBJECT') {
      throw errors.badRequest(`invalid JSON patch: ${first}${where}`);
    }
    throw new ApiError(422, 'Invalid', `the JSON patch could not be applied: ${first}${where}`);
  }
}

/**
 * Removes the field at a path as reported by the schema validator: `spec.foo`, `spec.items[2].x`,
 * or a JSON pointer `/spec/foo`. Missing intermediate values are ignored.
 */
export function deletePath(obj: unknown, path: string): void {
  const parts = parsePath(path);
  let cur: unknown = obj;
  for (const [i, p] of parts.entries()) {
    if (cur === null || typeof cur !== 'object') return;
    const container = cur as Record<string, unknown>;
    if (i === parts.length - 1) {
      if (Array.isArray(container)) return;
      delete container[p];
      return;
    }
    cur = container[p];
  }
}

export function parsePath(path: string): string[] {
  if (path.startsWith('/')) {
    return path
      .slice(1)
      .split('/')
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  }
  const out: string[] = [];
  const re = /([^.[\]]+)|\[(\d+)\]|\[["']?([^\]"']*)["']?\]/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(path))) out.push(m[1] ?? m[2] ?? m[3] ?? '');
  return out;
}
