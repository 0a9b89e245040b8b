// GitOps: a directory of manifests kept applied (see README.md).

export { GitOpsSyncer, startGitOps, formatError, GITOPS_COMPONENT } from './syncer.js';
export type { GitOpsOptions, SyncReport } from './syncer.js';
export { applyAndPrune } from './sync.js';
export type { ObjectRef, SyncContext, SyncResult } from './sync.js';
export { scanDirectory, parseManifests, objectKey, DirectoryError, MANAGED_KINDS, MAX_FILE_BYTES } from './scan.js';
export type { Manifest, ManifestError, ScanResult } from './scan.js';
export { APPLYSET_LABEL, SOURCE_ANNOTATION, FIELD_MANAGER, applySetId, directoryId, syncObjectName } from './names.js';
export { gitInfo, gitBusy } from './git.js';
export type { GitInfo } from './git.js';
export { Debouncer } from './debounce.js';
