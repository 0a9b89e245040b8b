// Request bodies: read once as raw bytes (capped), then decoded by media type. Kubernetes accepts
// JSON and YAML for create/update, four patch types, and an optional DeleteOptions on DELETE.

import type { IncomingMessage } from 'node:http';
import type { Readable, Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { parseDocument } from 'yaml';
import { errors } from './errors.js';

export type PatchType = 'merge' | 'json' | 'apply';

/** A request's body: its media type (lower-cased, without parameters; "" when absent) and bytes. */
export interface Body {
  mediaType: string;
  /** undefined when the request had no body or an empty one. */
  raw?: Buffer;
}

function decoder(encoding: string): Transform {
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      throw errors.unsupportedMediaType(`unsupported content encoding "${encoding}"`);
  }
}

/**
 * Reads the body of req (inflating gzip, deflate and br) up to `limit` bytes: more is 413, an
 * unknown Content-Encoding 415, a broken stream 400. Resolves without raw when there is no body.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Body> {
  const mediaType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const length = req.headers['content-length'];
  if (req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0')) return Promise.resolve({ mediaType });
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  let inflate: Transform | undefined;
  try {
    if (encoding !== 'identity') inflate = decoder(encoding);
  } catch (e) {
    return Promise.reject(e);
  }
  if (!inflate && length !== undefined && Number(length) > limit) return Promise.reject(errors.tooLarge(limit));
  const stream: Readable = inflate ? req.pipe(inflate) : req;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) fail(errors.tooLarge(limit));
      else chunks.push(c);
    };
    const onError = (e: Error) => fail(errors.badRequest(`invalid request body: ${e.message}`));
    const onClose = () => {
      if (!req.complete) fail(errors.badRequest('request aborted'));
    };
    const onEnd = () => {
      detach();
      resolve({ mediaType, raw: size > 0 ? Buffer.concat(chunks, size) : undefined });
    };
    const detach = () => {
      stream.off('data', onData).off('error', onError).off('end', onEnd);
      req.off('close', onClose);
    };
    const fail = (e: Error) => {
      detach();
      if (inflate) {
        req.unpipe(inflate);
        inflate.destroy();
      }
      // Whatever is left of the body is read and dropped, so the connection stays usable.
      req.resume();
      reject(e);
    };
    stream.on('data', onData).on('error', onError).on('end', onEnd);
    req.on('close', onClose);
  });
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
export function decodeObject({ mediaType: mt, raw }: Body): unknown {
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

export function decodePatch({ mediaType: mt, raw }: Body): { type: PatchType; patch: unknown } {
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
  if (!raw) throw errors.badRequest('the patch is empty');
  const text = raw.toString('utf8');
  const patch = type === 'apply' ? parseYaml(text, 'the apply configuration') : parseJson(text, 'the patch');
  return { type, patch };
}

/** DELETE may carry a DeleteOptions body (kubectl and client-go send one). */
export function decodeDeleteOptions({ mediaType: mt, raw }: Body): Record<string, unknown> {
  if (!raw) return {};
  const v = mt === 'application/yaml' ? parseYaml(raw.toString('utf8'), 'DeleteOptions') : parseJson(raw.toString('utf8'), 'DeleteOptions');
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw errors.badRequest('DeleteOptions must be an object');
  return v as Record<string, unknown>;
}
