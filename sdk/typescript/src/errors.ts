// The client's errors. Every answer the server refuses carries a Kubernetes Status; it becomes an
// ApiError subclass a caller can branch on with instanceof. A request that never got an answer
// (refused, reset, unreachable) is a ConnectionError instead: there is no Status to carry.

import type { Status, StatusCause, StatusDetails } from '@sandkasten/api-schemas';

/** The server answered with an error: the Status says what and, for Invalid, which fields. */
export class ApiError extends Error {
  /** The Status object the server sent (or one made from the HTTP status when it sent none). */
  readonly status: Status;
  /** Status.reason: NotFound, Conflict, AlreadyExists, Invalid, Unauthorized, Expired, ... */
  readonly reason: string;
  /** The HTTP status code. */
  readonly code: number;
  /** details.causes: for Invalid, one per bad field, with its path in `field`. */
  readonly causes: StatusCause[];
  readonly details: StatusDetails | undefined;

  constructor(status: Status) {
    super(status.message ?? `${status.code ?? 0} ${status.reason ?? 'Error'}`);
    this.name = 'ApiError';
    this.status = status;
    this.reason = status.reason ?? 'Unknown';
    this.code = status.code ?? 0;
    this.causes = status.details?.causes ?? [];
    this.details = status.details;
  }
}

/** 400: a malformed request (bad selector, unknown field under Strict, mismatched names). */
export class BadRequestError extends ApiError {
  override readonly name = 'BadRequestError';
}

/** 401: no API key, or the wrong one. */
export class UnauthorizedError extends ApiError {
  override readonly name = 'UnauthorizedError';
}

/** 403 */
export class ForbiddenError extends ApiError {
  override readonly name = 'ForbiddenError';
}

/** 404: no such object (or resource, or namespace path). */
export class NotFoundError extends ApiError {
  override readonly name = 'NotFoundError';
}

/** 409 Conflict: a stale resourceVersion or a failed precondition. */
export class ConflictError extends ApiError {
  override readonly name = 'ConflictError';
}

/** 409 AlreadyExists: the name is taken. */
export class AlreadyExistsError extends ApiError {
  override readonly name = 'AlreadyExistsError';
}

/** 410: a watch asked for history the server has compacted away; list again. */
export class GoneError extends ApiError {
  override readonly name = 'GoneError';
}

/** 422: the object breaks the schema or a metadata rule; `causes` name the fields. */
export class InvalidError extends ApiError {
  override readonly name = 'InvalidError';
}

/**
 * The operation did not finish in time: the server said so (504, reason Timeout), or the client
 * gave up (request deadline, waitFor timeout), in which case the Status is made here.
 */
export class TimeoutError extends ApiError {
  override readonly name = 'TimeoutError';
}

/** No answer: connection refused, reset, or the host unreachable. `code` is the errno name. */
export class ConnectionError extends Error {
  override readonly name = 'ConnectionError';
  /** ECONNREFUSED, ECONNRESET, EPIPE, ENOTFOUND, ... */
  readonly code: string;
  /** The URL the request went to. */
  readonly url: string;

  constructor(url: string, cause: NodeJS.ErrnoException) {
    super(`cannot reach ${url}: ${describeErrno(cause)}`, { cause });
    this.code = cause.code ?? 'UNKNOWN';
    this.url = url;
  }
}

/** A kind name the API does not serve ("the server doesn't have a resource type"). */
export class UnknownKindError extends Error {
  override readonly name = 'UnknownKindError';
  constructor(message: string) {
    super(message);
  }
}

function describeErrno(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ECONNREFUSED':
      return 'connection refused (is the daemon running?)';
    case 'ECONNRESET':
      return 'connection reset by the server';
    case 'ENOTFOUND':
      return 'host not found';
    default:
      return e.code ? `${e.message}` : e.message;
  }
}

const reasonOfCode: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Expired',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** A Status for an error answer whose body is not one (a proxy's page, an empty body). */
export function statusFromHttp(code: number, body: string): Status {
  const text = body.trim();
  return {
    kind: 'Status',
    apiVersion: 'v1',
    status: 'Failure',
    code,
    reason: reasonOfCode[code] ?? 'Unknown',
    message: text && text.length < 1024 ? `the server answered ${code}: ${text}` : `the server answered ${code}`,
  };
}

/** Parses an error answer's body as a Status when it is one. */
export function parseStatus(code: number, body: string): Status {
  try {
    const s = JSON.parse(body) as Partial<Status> | null;
    if (s && typeof s === 'object' && s.kind === 'Status') return { ...s, code: s.code ?? code } as Status;
  } catch {
    // not JSON: described from the HTTP status
  }
  return statusFromHttp(code, body);
}

/** The ApiError subclass for a Status. */
export function errorFromStatus(status: Status): ApiError {
  const code = status.code ?? 0;
  switch (status.reason) {
    case 'NotFound':
      return new NotFoundError(status);
    case 'AlreadyExists':
      return new AlreadyExistsError(status);
    case 'Conflict':
      return new ConflictError(status);
    case 'Invalid':
      return new InvalidError(status);
    case 'Unauthorized':
      return new UnauthorizedError(status);
    case 'Forbidden':
      return new ForbiddenError(status);
    case 'Expired':
    case 'Gone':
      return new GoneError(status);
    case 'Timeout':
    case 'ServerTimeout':
      return new TimeoutError(status);
    case 'BadRequest':
      return new BadRequestError(status);
  }
  switch (code) {
    case 400:
      return new BadRequestError(status);
    case 401:
      return new UnauthorizedError(status);
    case 403:
      return new ForbiddenError(status);
    case 404:
      return new NotFoundError(status);
    case 409:
      return new ConflictError(status);
    case 410:
      return new GoneError(status);
    case 422:
      return new InvalidError(status);
    case 504:
      return new TimeoutError(status);
    default:
      return new ApiError(status);
  }
}

/** A TimeoutError for a deadline the client itself enforced. */
export function clientTimeout(message: string): TimeoutError {
  return new TimeoutError({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 504, reason: 'Timeout', message });
}

export const isNotFound = (e: unknown): e is NotFoundError => e instanceof NotFoundError;
export const isConflict = (e: unknown): e is ConflictError => e instanceof ConflictError;
export const isAlreadyExists = (e: unknown): e is AlreadyExistsError => e instanceof AlreadyExistsError;
export const isInvalid = (e: unknown): e is InvalidError => e instanceof InvalidError;
