// Generated from schemas/Workspace.json by scripts/generate-types.mjs — do not edit.
// Change the schema and run `npm run generate -w api-schemas`.

import type { Condition } from './Condition.js';
import type { ObjectMeta } from './ObjectMeta.js';
import type { Quantity } from './Quantity.js';

/**
 * A persistent directory that outlives sessions; a Session mounts it (at /workspace by default).
 */
export interface Workspace {
  apiVersion: "sandkasten.dev/v1";
  kind: "Workspace";
  metadata: ObjectMeta;
  spec?: WorkspaceSpec;
  status?: WorkspaceStatus;
}
export interface WorkspaceSpec {
  /**
   * What happens to the data when the Workspace is deleted: Retain keeps it on the node, Delete removes it.
   */
  reclaimPolicy?: "Retain" | "Delete";
  /**
   * Maximum size of the data. Absent: no limit.
   */
  sizeLimit?: Quantity;
}
/**
 * Observed state. Host paths are deliberately absent: where the data lives is the node's business.
 */
export interface WorkspaceStatus {
  phase?: "Pending" | "Bound" | "Available" | "Released" | "Terminating" | "Failed";
  conditions?: Condition[];
  observedGeneration?: number;
  /**
   * Bytes used, as last measured.
   */
  sizeBytes?: number;
  /**
   * Names of the Sessions that mount this workspace.
   */
  sessions?: string[];
  message?: string;
  reason?: string;
}
