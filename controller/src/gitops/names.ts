// What ties objects to the directory they were applied from: the applyset label (as Kubernetes'
// ApplySet `applyset.kubernetes.io/part-of`), the source annotation, the field manager, and the
// name of the GitOpsSync object. All derive from the directory's absolute path, so they are the
// same after a restart and differ between two directories.

import { createHash } from 'node:crypto';
import { basename } from 'node:path';

/** Label on every object applied from a GitOps directory; prune considers only objects with its value. */
export const APPLYSET_LABEL = 'sandkasten.dev/applyset';
/** Annotation naming the file (relative to the directory) an object was last applied from. */
export const SOURCE_ANNOTATION = 'sandkasten.dev/gitops-source';
/** The field manager of GitOps applies (its entry in sandkasten.dev/last-applied). */
export const FIELD_MANAGER = 'gitops';

const ID_HEX = 8;

/** A short, stable id of an absolute directory path. */
export function directoryId(absDir: string): string {
  return createHash('sha256').update(absDir).digest('hex').slice(0, ID_HEX);
}

/** The applyset label value of a directory: "gitops-" and its id. */
export function applySetId(absDir: string): string {
  return `gitops-${directoryId(absDir)}`;
}

/**
 * The GitOpsSync object's name: the directory's base name as a DNS-1123 label, then its id
 * ("manifests-1a2b3c4d"), so two directories of the same name do not share one.
 */
export function syncObjectName(absDir: string): string {
  const slug = basename(absDir)
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63 - ID_HEX - 1)
    .replace(/-+$/, '');
  return `${slug || 'gitops'}-${directoryId(absDir)}`;
}
