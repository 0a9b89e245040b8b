// @sandkasten/client: the TypeScript client of Sandkasten.

export { SandboxClient, conditionPredicate, selectorString } from './client.js';
export type {
  ApplyOptions,
  ClientOptions,
  DeleteOptions,
  FieldValidation,
  GetOptions,
  ListOptions,
  PatchOptions,
  ReplaceOptions,
  Selector,
  VersionInfo,
  WaitForDeletionOptions,
  WaitOptions,
  WatchOptions,
  WriteOptions,
} from './client.js';

export {
  ApiError,
  AlreadyExistsError,
  BadRequestError,
  ConflictError,
  ConnectionError,
  ForbiddenError,
  GoneError,
  InvalidError,
  NotFoundError,
  TimeoutError,
  UnauthorizedError,
  UnknownKindError,
  errorFromStatus,
  isAlreadyExists,
  isConflict,
  isInvalid,
  isNotFound,
} from './errors.js';

export { qualifiedName, resolveKind, resolveManifestKind, resourcePath } from './kinds.js';
export type { KindAliases, KindMap, KindOf, KindRef, ObjectLike, ObjectList, ObjectOf, SandkastenObject } from './kinds.js';

export { Transport, isConnectionFailure } from './transport.js';
export type { HttpRequest, HttpResponse, QueryValue, RetryOptions, StreamResponse, TlsOptions, TransportOptions } from './transport.js';

export { WatchProtocolError, parseEventLines } from './watch.js';
export type { BookmarkEvent, ObjectEvent, ObjectEventType, WatchEvent } from './watch.js';

export type { Condition, Event, Image, Session, Status, StatusCause, Workspace } from '@sandkasten/api-schemas';
