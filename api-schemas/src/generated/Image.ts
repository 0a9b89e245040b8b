// Generated from schemas/Image.json by scripts/generate-types.mjs — do not edit.
// Change the schema and run `npm run generate -w api-schemas`.

import type { Condition } from './Condition.js';
import type { ObjectMeta } from './ObjectMeta.js';

/**
 * A root filesystem for sessions: pulled from an OCI registry, unpacked from a tarball, or the built-in offline default. Cluster-scoped.
 */
export interface Image {
  apiVersion: "sandkasten.dev/v1";
  kind: "Image";
  metadata: ObjectMeta;
  spec: ImageSpec;
  status?: ImageStatus;
}
export interface ImageSpec {
  /**
   * Where the image comes from: oci://registry/repo:tag (or @sha256:…), tar:///path/to/rootfs.tar, or builtin://NAME.
   */
  source: string;
  /**
   * IfNotPresent: fetch once; Always: fetch again whenever the spec changes or a pull is requested.
   */
  pullPolicy?: "IfNotPresent" | "Always";
}
export interface ImageStatus {
  phase?: "Pending" | "Pulling" | "Ready" | "Failed" | "Terminating";
  conditions?: Condition[];
  observedGeneration?: number;
  progress?: ImageProgress;
  /**
   * Content digest of the image manifest, e.g. sha256:….
   */
  digest?: string;
  /**
   * Unpacked size of all layers.
   */
  sizeBytes?: number;
  layerCount?: number;
  config?: ImageConfig;
  message?: string;
  reason?: string;
}
/**
 * Progress of the current pull.
 */
export interface ImageProgress {
  bytesDone?: number;
  bytesTotal?: number;
  layersDone?: number;
  layersTotal?: number;
  /**
   * The same in words, for tables: "45% (2/5 layers)".
   */
  summary?: string;
}
/**
 * The parts of the OCI image config a session uses.
 */
export interface ImageConfig {
  /**
   * KEY=VALUE entries.
   */
  env?: string[];
  workingDir?: string;
  user?: string;
  cmd?: string[];
}
