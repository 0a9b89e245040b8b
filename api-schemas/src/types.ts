// Hand-written shapes shared by the validators and their callers.
import type { ListMeta } from './generated/ListMeta.js';

/** The API group and version of every kind in this package. */
export const API_GROUP = 'sandkasten.dev';
export const API_VERSION = 'v1';
export const GROUP_VERSION = 'sandkasten.dev/v1';

/** The three kinds users declare, and the Events controllers write. */
export type KindName = 'Session' | 'Workspace' | 'Image' | 'Event';
/** Every kind served under sandkasten.dev/v1: KindName and the status the daemon reports about itself (GitOpsSync). */
export type ServedKindName = KindName | 'GitOpsSync';
export const KINDS: readonly ServedKindName[] = ['Session', 'Workspace', 'Image', 'Event', 'GitOpsSync'];

/** The Kubernetes StatusCause reasons a validator reports. */
export type FieldCauseReason =
  | 'FieldValueRequired'
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueTypeInvalid'
  | 'FieldValueTooLong'
  | 'FieldValueDuplicate'
  | 'FieldValueForbidden';

/** One bad field: `field` is a Kubernetes field path such as `spec.env[2].name`. */
export interface FieldCause {
  reason: FieldCauseReason;
  message: string;
  field: string;
}

export interface ValidationResult {
  /** Invalid values; any cause makes the object invalid. */
  causes: FieldCause[];
  /** Field paths the schema does not know; the caller rejects or warns (fieldValidation). */
  unknownFields: string[];
}

/** A list response (SessionList, WorkspaceList, ImageList). */
export interface ResourceList<T> {
  apiVersion: string;
  kind: string;
  metadata: ListMeta;
  items: T[];
}
