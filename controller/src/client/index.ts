// The in-process API client (see client.ts).

export { Client, retryOnConflict } from './client.js';
export type { ClientOptions, DeleteOptions, ListOptions, ListResult, PatchType, ResourceName, ResourceTypes, WriteCallOptions } from './client.js';
export {
  ClientError,
  NotFoundError,
  ConflictError,
  AlreadyExistsError,
  InvalidError,
  BadRequestError,
  toClientError,
  isNotFound,
  isConflict,
  isAlreadyExists,
} from './errors.js';
