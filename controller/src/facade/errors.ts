// The /v1 API's one error type and shape, `{error_code, message, details?}`, as the original
// served it. Handlers throw SeedError; anything else that reaches the facade's error middleware —
// an ApiError of the shared layers, a runner failure, a client error — is mapped here, so a
// caller's mistake is a 4xx with a code and never an INTERNAL_ERROR.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorRequestHandler } from 'express';
import { ApiError } from '../apiserver/errors.js';
import { logEnabled, type Logger } from '../apiserver/logger.js';
import { sendJson } from '../apiserver/reply.js';
import { ClientError } from '../client/index.js';
import { RunnerError } from '../runner/index.js';

/** The original's codes, and a few for cases it answered with INTERNAL_ERROR. */
export const ErrorCode = {
  SessionNotFound: 'SESSION_NOT_FOUND',
  SessionExpired: 'SESSION_EXPIRED',
  InvalidImage: 'INVALID_IMAGE',
  InvalidWorkspace: 'INVALID_WORKSPACE',
  CommandTimeout: 'COMMAND_TIMEOUT',
  InvalidRequest: 'INVALID_REQUEST',
  Unauthorized: 'UNAUTHORIZED',
  InternalError: 'INTERNAL_ERROR',
  WorkspaceNotFound: 'WORKSPACE_NOT_FOUND',
  // Not in the original (which answered these with INTERNAL_ERROR):
  SessionNotRunning: 'SESSION_NOT_RUNNING',
  SessionBusy: 'SESSION_BUSY',
  SessionUnavailable: 'SESSION_UNAVAILABLE',
  WorkspaceInUse: 'WORKSPACE_IN_USE',
  FileNotFound: 'FILE_NOT_FOUND',
  FileExists: 'FILE_EXISTS',
  PermissionDenied: 'PERMISSION_DENIED',
  InsufficientStorage: 'INSUFFICIENT_STORAGE',
  NotFound: 'NOT_FOUND',
  MethodNotAllowed: 'METHOD_NOT_ALLOWED',
  Conflict: 'CONFLICT',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export type Details = Record<string, unknown>;

export class SeedError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly details?: Details,
  ) {
    super(message);
    this.name = 'SeedError';
  }

  body(): { error_code: string; message: string; details?: Details } {
    return this.details ? { error_code: this.code, message: this.message, details: this.details } : { error_code: this.code, message: this.message };
  }
}

export const invalid = (message: string, details?: Details) => new SeedError(400, ErrorCode.InvalidRequest, message, details);

/** Drops the runner client's "op: " prefix ("fs.read: /x: …" → "/x: …"). */
function runnerDetail(e: RunnerError): string {
  return e.op && e.message.startsWith(`${e.op}: `) ? e.message.slice(e.op.length + 2) : e.message;
}

/** A runner failure of operation `what` ("read /workspace/x"). */
export function fromRunnerError(e: RunnerError, what: string): SeedError {
  const msg = `${what}: ${runnerDetail(e)}`;
  switch (e.code) {
    case 'ENOENT':
      return new SeedError(404, ErrorCode.FileNotFound, msg);
    case 'EEXIST':
      return new SeedError(409, ErrorCode.FileExists, msg);
    case 'BUSY':
      return new SeedError(409, ErrorCode.SessionBusy, msg);
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new SeedError(403, ErrorCode.PermissionDenied, msg);
    case 'ENOSPC':
    case 'EDQUOT':
    case 'EFBIG':
      return new SeedError(507, ErrorCode.InsufficientStorage, msg);
    case 'ENOTDIR':
    case 'EISDIR':
    case 'EINVAL':
    case 'ELOOP':
    case 'ENAMETOOLONG':
    case 'ENOTEMPTY':
    case 'EXDEV':
    case 'EBUSY':
    case 'BAD_REQUEST':
      return invalid(msg);
    case 'SHELL_UNAVAILABLE':
    case 'SHUTTING_DOWN':
    case 'UNAVAILABLE':
    case 'CONNECTION_LOST':
      return new SeedError(503, ErrorCode.SessionUnavailable, `${msg} (the session's sandbox is not reachable)`);
    default:
      return new SeedError(500, ErrorCode.InternalError, msg);
  }
}

/** Rethrows a runner call's failure as a SeedError; others pass unchanged. */
export function rethrowRunner(e: unknown, what: string): never {
  if (e instanceof RunnerError) throw fromRunnerError(e, what);
  throw e;
}

/** An ApiError (body reading, the shared layers) in the /v1 shape. */
function fromApiError(e: ApiError): SeedError {
  switch (e.status) {
    case 400:
    case 413:
    case 415:
    case 422:
      return invalid(e.message);
    case 401:
      return new SeedError(401, ErrorCode.Unauthorized, e.message);
    case 404:
      return new SeedError(404, ErrorCode.NotFound, e.message);
    case 405:
      return new SeedError(405, ErrorCode.MethodNotAllowed, e.message);
    case 409:
      return new SeedError(409, ErrorCode.Conflict, e.message);
    case 503:
      return new SeedError(503, ErrorCode.SessionUnavailable, e.message);
    default:
      return new SeedError(e.status >= 500 ? e.status : 400, e.status >= 500 ? ErrorCode.InternalError : ErrorCode.InvalidRequest, e.message);
  }
}

/** Any thrown value as a SeedError; what is not understood is logged with its stack and is a 500. */
export function toSeedError(err: unknown, logger: Logger, method?: string, url?: string): SeedError {
  let e: SeedError | undefined;
  if (err instanceof SeedError) e = err;
  else if (err instanceof ApiError) e = fromApiError(err);
  else if (err instanceof ClientError) e = fromApiError(new ApiError(err.status.code, err.status.reason, err.status.message));
  else if (err instanceof RunnerError) e = fromRunnerError(err, err.op || 'runner');
  if (!e) {
    logger.error(`${method} ${url} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return new SeedError(500, ErrorCode.InternalError, 'internal error: see the server log');
  }
  if (e.status >= 500) logger.error(`${method} ${url} => ${e.status} ${e.code}: ${e.message}`);
  else if (logEnabled(logger, 'debug')) logger.debug(`${method} ${url} => ${e.status} ${e.code}: ${e.message}`);
  return e;
}

export function sendSeedError(res: ServerResponse, e: SeedError): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  if (e.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
  sendJson(res, e.status, e.body());
}

export function seedErrorMiddleware(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => sendSeedError(res, toSeedError(err, logger, req.method, req.originalUrl));
}

/** Is this a path of the /v1 API (whose errors have the /v1 shape)? */
export function isV1Path(url: string | undefined): boolean {
  const u = url ?? '/';
  return u === '/v1' || u.startsWith('/v1/') || u.startsWith('/v1?');
}

/** The API server's `unauthorized` hook: a failed authentication on a /v1 path, in the /v1 shape. */
export function v1Unauthorized(req: IncomingMessage, res: ServerResponse): boolean {
  if (!isV1Path(req.url)) return false;
  const message = req.headers.authorization ? 'invalid api key' : 'missing authorization header';
  sendSeedError(res, new SeedError(401, ErrorCode.Unauthorized, message));
  return true;
}
