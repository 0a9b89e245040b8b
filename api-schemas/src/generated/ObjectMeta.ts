// Generated from schemas/ObjectMeta.json by scripts/generate-types.mjs — do not edit.
// Change the schema and run `npm run generate -w api-schemas`.

/**
 * Standard object metadata, as in Kubernetes. The server sets uid, resourceVersion, generation, creationTimestamp and deletionTimestamp; clients may send them (e.g. resourceVersion for optimistic concurrency).
 */
export interface ObjectMeta {
  /**
   * Unique within the namespace (or cluster, for cluster-scoped kinds): a DNS-1123 subdomain, at most 253 characters.
   */
  name?: string;
  /**
   * Prefix the server uses to generate a unique name when name is empty.
   */
  generateName?: string;
  /**
   * Namespace of a namespaced object: a DNS-1123 label, at most 63 characters.
   */
  namespace?: string;
  /**
   * Unique for the lifetime of the object; set by the server.
   */
  uid?: string;
  /**
   * Opaque version of this object (one global counter); set by the server.
   */
  resourceVersion?: string;
  /**
   * Incremented by the server on every change to spec.
   */
  generation?: number;
  /**
   * RFC 3339 time the object was created; set by the server. null (as kubectl writes it) means unset.
   */
  creationTimestamp?: string;
  /**
   * RFC 3339 time deletion was requested; set by the server. The object goes once its finalizers are gone.
   */
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  /**
   * Identifying key/value pairs, usable in label selectors.
   */
  labels?: {
    [k: string]: string;
  };
  /**
   * Non-identifying key/value pairs for tools (at most 256 KiB in total).
   */
  annotations?: {
    [k: string]: string;
  };
  /**
   * Names of cleanups that must finish before the object is removed.
   */
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
  /**
   * Accepted for compatibility with Kubernetes clients; not interpreted.
   */
  managedFields?: ManagedFieldsEntry[];
  /**
   * Deprecated in Kubernetes; accepted for compatibility and ignored.
   */
  selfLink?: string;
}
/**
 * Points at the object that owns this one; the owned object goes when the owner goes.
 */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}
export interface ManagedFieldsEntry {
  [k: string]: unknown;
}
