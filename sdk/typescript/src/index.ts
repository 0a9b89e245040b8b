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
export type { HttpRequest, HttpResponse, QueryValue, RequestBody, RetryOptions, StreamResponse, TlsOptions, TransportOptions, UpgradedResponse } from './transport.js';

export { SandboxSession, SessionStartError, WORKSPACE_DIR, remotePath } from './session.js';
export type {
  CreateSessionOptions,
  DownloadResult,
  ExecOptions,
  ExecResult,
  ExecStream,
  ExecStreamOptions,
  ExecStreamResult,
  FileEntry,
  ListSessionsOptions,
  ReadFileOptions,
  SessionStats,
  TransferOptions,
  UploadOptions,
  UploadResult,
  WriteFileOptions,
} from './session.js';

export { DETACH_BYTE, TerminalConnection, attachSession, openAttach, runTerminal } from './attach.js';
export type { AttachEnd, AttachOptions, AttachTarget, TerminalIo, TerminalSize } from './attach.js';

export { WebSocketClient, WebSocketError, connectWebSocket } from './websocket.js';
export type { WebSocketConnectOptions, WebSocketState } from './websocket.js';

export { WatchProtocolError, parseEventLines } from './watch.js';
export type { BookmarkEvent, ObjectEvent, ObjectEventType, WatchEvent } from './watch.js';

export type { Condition, Event, Image, Session, Status, StatusCause, Workspace } from '@sandkasten/api-schemas';
