// The client's errors: one class per failure a caller branches on, each carrying the Kubernetes
// Status the HTTP API would have answered with.

import type { ApiError, Status } from '../apiserver/errors.js';

export class ClientError extends Error {
  /** The HTTP status code the same request would have got. */
  readonly code: number;
  /** Status.reason: NotFound, Conflict, AlreadyExists, Invalid, BadRequest, ... */
  readonly reason: string;

  constructor(readonly status: Status) {
    super(status.message);
    this.name = 'ClientError';
    this.code = status.code;
    this.reason = status.reason;
  }
}

export class NotFoundError extends ClientError {
  constructor(status: Status) {
    super(status);
    this.name = 'NotFoundError';
  }
}

/** A stale resourceVersion or a failed precondition. */
export class ConflictError extends ClientError {
  constructor(status: Status) {
    super(status);
    this.name = 'ConflictError';
  }
}

export class AlreadyExistsError extends ClientError {
  constructor(status: Status) {
    super(status);
    this.name = 'AlreadyExistsError';
  }
}

/** 422: the object breaks the schema or a metadata rule; status.details.causes name the fields. */
export class InvalidError extends ClientError {
  constructor(status: Status) {
    super(status);
    this.name = 'InvalidError';
  }
}

/** 400: a malformed request (bad selector, unknown field under Strict, mismatched names). */
export class BadRequestError extends ClientError {
  constructor(status: Status) {
    super(status);
    this.name = 'BadRequestError';
  }
}

export function toClientError(e: ApiError): ClientError {
  const s = e.toStatus();
  switch (s.reason) {
    case 'NotFound':
      return new NotFoundError(s);
    case 'Conflict':
      return new ConflictError(s);
    case 'AlreadyExists':
      return new AlreadyExistsError(s);
    case 'Invalid':
      return new InvalidError(s);
    case 'BadRequest':
      return new BadRequestError(s);
    default:
      return new ClientError(s);
  }
}

export const isNotFound = (e: unknown): e is NotFoundError => e instanceof NotFoundError;
export const isConflict = (e: unknown): e is ConflictError => e instanceof ConflictError;
export const isAlreadyExists = (e: unknown): e is AlreadyExistsError => e instanceof AlreadyExistsError;
