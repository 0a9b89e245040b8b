// Runner failures as Kubernetes Status errors: errno names become the HTTP status a caller can act
// on (ENOENT 404, EEXIST 409, EACCES 403, …); a sandbox that cannot be reached is 503.

import { ApiError } from '../apiserver/errors.js';
import { RunnerError } from '../runner/index.js';

/** Drops the runner client's "op: " prefix, so messages read "fs.read: /x: …" once. */
function detail(e: RunnerError): string {
  return e.op && e.message.startsWith(`${e.op}: `) ? e.message.slice(e.op.length + 2) : e.message;
}

/** A runner failure as an ApiError; `what` names the operation and path ("read /etc/x"). */
export function fromRunnerError(e: RunnerError, what: string): ApiError {
  const msg = `${what}: ${detail(e)}`;
  switch (e.code) {
    case 'ENOENT':
      return new ApiError(404, 'NotFound', msg);
    case 'EEXIST':
      return new ApiError(409, 'AlreadyExists', msg);
    case 'ENOTEMPTY':
      return new ApiError(409, 'Conflict', `${msg} (remove it with recursive=1)`);
    case 'BUSY':
      return new ApiError(409, 'Conflict', msg, { retryAfterSeconds: 1 });
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new ApiError(403, 'Forbidden', msg);
    case 'ENOSPC':
    case 'EDQUOT':
      return new ApiError(507, 'InsufficientStorage', msg);
    case 'EFBIG':
      return new ApiError(413, 'RequestEntityTooLarge', msg);
    case 'ENOTDIR':
    case 'EISDIR':
    case 'EINVAL':
    case 'ELOOP':
    case 'ENAMETOOLONG':
    case 'EXDEV':
    case 'EBUSY':
    case 'BAD_REQUEST':
      return new ApiError(400, 'BadRequest', msg);
    case 'SHELL_UNAVAILABLE':
    case 'SHUTTING_DOWN':
    case 'UNAVAILABLE':
    case 'CONNECTION_LOST':
      return new ApiError(503, 'ServiceUnavailable', `${msg} (the session's sandbox is not reachable)`, { retryAfterSeconds: 1 });
    default:
      return new ApiError(500, 'InternalError', msg);
  }
}

/** Any error of a runner call as an ApiError (ApiErrors pass through; the rest is rethrown). */
export function toApi(e: unknown, what: string): never {
  if (e instanceof ApiError) throw e;
  if (e instanceof RunnerError) throw fromRunnerError(e, what);
  throw e;
}
