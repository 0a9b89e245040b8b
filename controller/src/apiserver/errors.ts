// One error type for the API (after hono's HTTPException): handlers throw ApiError, and a single
// error middleware turns it — or anything else that escaped — into a Kubernetes `Status` body.

import type { ServerResponse } from 'node:http';
import type { ErrorRequestHandler } from 'express';
import { logEnabled, type Logger } from './logger.js';
import { sendJson } from './reply.js';

export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

/** The Kubernetes meta/v1 Status object, as every error body. */
export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, unknown>;
  status: 'Failure' | 'Success';
  message: string;
  reason: string;
  details?: StatusDetails;
  code: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toStatus(): Status {
    const s: Status = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      code: this.status,
    };
    if (this.details) s.details = this.details;
    return s;
  }
}

/** What identifies the object an error is about, e.g. `sessions.sandkasten.dev "x"`. */
export interface ErrorTarget {
  group: string;
  /** The plural resource name (Kubernetes names the resource, not the kind, in these messages). */
  resource: string;
  name: string;
}

function qualified(t: ErrorTarget): string {
  return t.group ? `${t.resource}.${t.group}` : t.resource;
}

const targetDetails = (t: ErrorTarget): StatusDetails => ({ name: t.name, group: t.group, kind: t.resource });

export const errors = {
  badRequest: (message: string, causes?: StatusCause[]) =>
    new ApiError(400, 'BadRequest', message, causes ? { causes } : undefined),
  unauthorized: () => new ApiError(401, 'Unauthorized', 'Unauthorized'),
  notFound: (t: ErrorTarget) => new ApiError(404, 'NotFound', `${qualified(t)} "${t.name}" not found`, targetDetails(t)),
  pathNotFound: (path: string) => new ApiError(404, 'NotFound', `the server could not find the requested resource (${path})`),
  methodNotAllowed: (method: string, what: string) =>
    new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource: ${method} ${what}`),
  alreadyExists: (t: ErrorTarget) => new ApiError(409, 'AlreadyExists', `${qualified(t)} "${t.name}" already exists`, targetDetails(t)),
  conflict: (t: ErrorTarget, why: string) =>
    new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(t)} "${t.name}": ${why}`, targetDetails(t)),
  expired: (message: string) => new ApiError(410, 'Expired', message),
  tooLarge: (limit: number) => new ApiError(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limit}`),
  unsupportedMediaType: (message: string) => new ApiError(415, 'UnsupportedMediaType', message),
  /** 422 with one cause per bad field, message shaped like Kubernetes' field.ErrorList aggregate. */
  invalid: (kind: string, group: string, name: string, causes: StatusCause[]) => {
    const parts = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
    const list = parts.length === 1 ? parts[0] : `[${parts.join(', ')}]`;
    return new ApiError(422, 'Invalid', `${kind}.${group} "${name}" is invalid: ${list}`, {
      name,
      group,
      kind,
      causes,
    });
  },
  internal: () => new ApiError(500, 'InternalError', 'Internal error occurred: see the server log'),
  tooManyRequests: (message: string) => new ApiError(429, 'TooManyRequests', message),
  serviceUnavailable: (message: string) => new ApiError(503, 'ServiceUnavailable', message),
};

/** Maps body-parser / http-errors style errors (they carry `type` and `status`) to a Status. */
function fromHttpError(err: { type?: string; status?: number; statusCode?: number; message?: string; limit?: number }): ApiError | undefined {
  const status = err.status ?? err.statusCode;
  switch (err.type) {
    case 'entity.too.large':
      return errors.tooLarge(err.limit ?? 0);
    case 'entity.parse.failed':
      return errors.badRequest(`malformed request body: ${err.message ?? 'parse error'}`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return errors.unsupportedMediaType(err.message ?? 'unsupported encoding');
    case 'request.aborted':
      return errors.badRequest('request aborted');
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return errors.badRequest(err.message ?? 'invalid request body');
  }
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new ApiError(status, status === 404 ? 'NotFound' : 'BadRequest', err.message ?? 'bad request');
  }
  return undefined;
}

export function sendStatus(res: ServerResponse, e: ApiError): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  sendJson(res, e.status, e.toStatus());
}

/** Any thrown value as an ApiError; what is not one is logged (with its stack) and becomes a 500. */
export function toApiError(err: unknown, logger: Logger, method: string | undefined, url: string | undefined): ApiError {
  let e: ApiError | undefined = err instanceof ApiError ? err : undefined;
  if (!e && err && typeof err === 'object') e = fromHttpError(err as Record<string, never>);
  if (!e) {
    logger.error(`${method} ${url} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return errors.internal();
  }
  if (e.status >= 500) logger.error(`${method} ${url} => ${e.status} ${e.message}`);
  else if (logEnabled(logger, 'debug')) logger.debug(`${method} ${url} => ${e.status} ${e.reason}: ${e.message}`);
  return e;
}

export function errorMiddleware(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => sendStatus(res, toApiError(err, logger, req.method, req.originalUrl));
}
