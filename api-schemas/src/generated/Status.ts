// Generated from schemas/Status.json by scripts/generate-types.mjs — do not edit.
// Change the schema and run `npm run generate -w api-schemas`.

import type { ListMeta } from './ListMeta.js';

/**
 * The result of an API call that returns no object, and every API error: the Kubernetes Status kind (apiVersion v1).
 */
export interface Status {
  kind: "Status";
  apiVersion: "v1";
  metadata?: ListMeta;
  status?: "Success" | "Failure";
  /**
   * Human-readable description of what happened.
   */
  message?: string;
  /**
   * Machine-readable CamelCase reason, e.g. NotFound, AlreadyExists, Conflict, Invalid, Expired.
   */
  reason?: string;
  details?: StatusDetails;
  /**
   * The HTTP status code of the response.
   */
  code?: number;
}
export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}
/**
 * One reason for a failure; field is a Kubernetes field path such as spec.env[2].name.
 */
export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}
