// Request bodies: read once as raw bytes (capped), then decoded by media type. Kubernetes accepts
// JSON and YAML for create/update, four patch types, and an optional DeleteOptions on DELETE.

import type { Request } from 'express';
import { parseDocument } from 'yaml';
import { errors } from './errors.js';

export type PatchType = 'merge' | 'json' | 'apply';

/** The media type without parameters, lower-cased ("" when absent). */
export function mediaType(req: Request): string {
  const ct = req.headers['content-type'];
  return (ct ?? '').split(';')[0]!.trim().toLowerCase();
}

function rawBody(req: Request): Buffer | undefined {
  const b = req.body as unknown;
  return Buffer.isBuffer(b) && b.length > 0 ? b : undefined;
}

export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw errors.badRequest(`${what} is not valid JSON: ${(e as Error).message}`);
  }
}

export function parseYaml(text: string, what: string): unknown {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, merge: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw errors.badRequest(`${what} is not valid YAML: ${e.message.split('\n')[0]}`);
  }
  return doc.toJS({ maxAliasCount: 100 }) as unknown;
}

const objectTypes = ['application/json', 'application/yaml'];

/** The object of a POST or PUT. */
export function decodeObject(req: Request): unknown {
  const raw = rawBody(req);
  const mt = mediaType(req);
  if (!raw) throw errors.badRequest('the request body is empty: an object is required');
  if (mt === 'application/json' || mt === '') return parseJson(raw.toString('utf8'), 'the request body');
  if (mt === 'application/yaml' || mt === 'text/yaml' || mt === 'application/x-yaml') {
    return parseYaml(raw.toString('utf8'), 'the request body');
  }
  throw errors.unsupportedMediaType(
    `the body of the request was in an unknown format (${mt}) - accepted media types include: ${objectTypes.join(', ')}`,
  );
}

const patchTypes = ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml'];

export function decodePatch(req: Request): { type: PatchType; patch: unknown } {
  const mt = mediaType(req);
  let type: PatchType;
  switch (mt) {
    case 'application/merge-patch+json':
      type = 'merge';
      break;
    case 'application/json-patch+json':
      type = 'json';
      break;
    case 'application/apply-patch+yaml':
      type = 'apply';
      break;
    case 'application/strategic-merge-patch+json':
      throw errors.unsupportedMediaType(
        'the body of the request was in an unknown format - strategic merge patch is not supported for sandkasten.dev resources (they are custom resources); use application/merge-patch+json, application/json-patch+json or application/apply-patch+yaml',
      );
    default:
      throw errors.unsupportedMediaType(
        `the body of the request was in an unknown format (${mt || 'no Content-Type'}) - accepted media types include: ${patchTypes.join(', ')}`,
      );
  }
  const raw = rawBody(req);
  if (!raw) throw errors.badRequest('the patch is empty');
  const text = raw.toString('utf8');
  const patch = type === 'apply' ? parseYaml(text, 'the apply configuration') : parseJson(text, 'the patch');
  return { type, patch };
}

/** DELETE may carry a DeleteOptions body (kubectl and client-go send one). */
export function decodeDeleteOptions(req: Request): Record<string, unknown> {
  const raw = rawBody(req);
  if (!raw) return {};
  const mt = mediaType(req);
  const v = mt === 'application/yaml' ? parseYaml(raw.toString('utf8'), 'DeleteOptions') : parseJson(raw.toString('utf8'), 'DeleteOptions');
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw errors.badRequest('DeleteOptions must be an object');
  return v as Record<string, unknown>;
}
