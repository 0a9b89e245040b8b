// Generated from schemas/GitOpsSync.json by scripts/generate-types.mjs — do not edit.
// Change the schema and run `npm run generate -w api-schemas`.

import type { Condition } from './Condition.js';
import type { ObjectMeta } from './ObjectMeta.js';

/**
 * The state of one GitOps directory the daemon keeps applied (the config's gitops section): what it syncs, and how its last sync went. Written by the daemon; cluster-scoped; named after the directory.
 */
export interface GitOpsSync {
  apiVersion: "sandkasten.dev/v1";
  kind: "GitOpsSync";
  metadata: ObjectMeta;
  spec?: GitOpsSyncSpec;
  status?: GitOpsSyncStatus;
}
/**
 * What is synced, as configured (the daemon writes it from its config).
 */
export interface GitOpsSyncSpec {
  /**
   * The directory, as an absolute path on the daemon's host.
   */
  path?: string;
  /**
   * Value of the label sandkasten.dev/applyset on every object applied from the directory: prune deletes only objects that carry it.
   */
  applySet?: string;
  /**
   * Whether objects whose manifests are gone are deleted (else reported as orphaned).
   */
  prune?: boolean;
  /**
   * Full re-sync period.
   */
  intervalSeconds?: number;
}
export interface GitOpsSyncStatus {
  observedGeneration?: number;
  /**
   * Synced: every manifest applied (and, with prune, everything stale deleted). Degraded: part of the directory could not be applied.
   */
  conditions?: Condition[];
  /**
   * RFC 3339 time the last sync finished.
   */
  lastSyncTime?: string;
  /**
   * How long the last sync took.
   */
  lastSyncDurationMs?: number;
  /**
   * Syncs run since this object was created.
   */
  syncCount?: number;
  /**
   * The git commit checked out in the directory (git rev-parse HEAD), when it is in a git work tree.
   */
  commit?: string;
  /**
   * The first 7 characters of commit.
   */
  shortCommit?: string;
  /**
   * The branch checked out, when not detached.
   */
  branch?: string;
  /**
   * Objects the directory's valid manifests declare.
   */
  objects?: number;
  /**
   * Objects the last sync created or changed.
   */
  applied?: number;
  /**
   * Objects the last sync applied without a change.
   */
  unchanged?: number;
  /**
   * Objects the last sync deleted because their manifests are gone.
   */
  pruned?: number;
  /**
   * Manifests (documents) the last sync could not apply.
   */
  failed?: number;
  /**
   * Objects applied from the directory whose manifests are gone, kept because prune is off.
   */
  orphaned?: number;
  /**
   * Why manifests failed (at most 100). The objects of a file with an error keep their last applied state: nothing in the file is applied and none of its objects is pruned.
   *
   * @maxItems 100
   */
  errors?: GitOpsSyncError[];
  /**
   * The orphaned objects (at most 100).
   *
   * @maxItems 100
   */
  orphans?: GitOpsObjectRef[];
}
export interface GitOpsSyncError {
  /**
   * The file, relative to the directory.
   */
  file: string;
  /**
   * Index of the YAML document in the file, from 0.
   */
  document?: number;
  /**
   * Field path of the bad value, e.g. spec.network.mode.
   */
  field?: string;
  message: string;
}
export interface GitOpsObjectRef {
  kind: string;
  namespace?: string;
  name: string;
  /**
   * The file it was last applied from, relative to the directory.
   */
  file?: string;
}
