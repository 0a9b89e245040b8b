// @sandkasten/api-schemas: the JSON Schemas of sandkasten.dev/v1 and of sandkasten.yaml, the
// types generated from them, validators, defaulting and the resource table.

export { API_GROUP, API_VERSION, GROUP_VERSION, KINDS } from './types.js';
export type { FieldCause, FieldCauseReason, KindName, ServedKindName, ResourceList, ValidationResult } from './types.js';

export { resources, findResourceByKind, findResourceByPlural, resolveResourceName } from './resources.js';
export type { PrinterColumn, ResourceInfo } from './resources.js';

export {
  validateObject,
  validateAgainst,
  unknownFieldMessage,
  invalidMessage,
  MIN_SESSION_MEMORY_BYTES,
  MAX_SESSION_CPUS,
} from './validate.js';
export { sessionWorkspaceMount, DEFAULT_WORKSPACE_MOUNT_PATH } from './session.js';
export {
  validateName,
  validateGenerateName,
  validateNamespace,
  validateLabels,
  validateAnnotations,
  validateFinalizers,
  isDns1123Label,
  isDns1123Subdomain,
  MAX_NAME_LENGTH,
  MAX_NAMESPACE_LENGTH,
  MAX_LABEL_VALUE_LENGTH,
  MAX_ANNOTATIONS_BYTES,
  GENERATED_NAME_SUFFIX_LENGTH,
} from './names.js';
export { parseQuantity, parseCpu, formatBytes } from './quantity.js';
export { applyDefaults, pruneUnknownFields } from './defaults.js';
export { loadConfigDefaults, applyConfigDefaults, validateConfig, applyConfigEnv, configEnvVars } from './config.js';
export type { ResolvedConfig, ConfigEnvVar } from './config.js';
export { getSchema, schemaId, schemasById, SCHEMA_BASE_URI } from './schemas.js';
export type { JsonSchema, SchemaName } from './schemas.js';

export type { ObjectMeta, OwnerReference, ManagedFieldsEntry } from './generated/ObjectMeta.js';
export type { ListMeta } from './generated/ListMeta.js';
export type { Condition } from './generated/Condition.js';
export type { Status, StatusDetails, StatusCause } from './generated/Status.js';
export type { Quantity } from './generated/Quantity.js';
export type { CpuQuantity } from './generated/CpuQuantity.js';
export type {
  Session,
  SessionSpec,
  SessionStatus,
  SessionResources,
  SessionNetwork,
  SecurityProfile,
  EnvVar,
  WorkspaceMount,
  SandboxStatus,
} from './generated/Session.js';
export type { Workspace, WorkspaceSpec, WorkspaceStatus } from './generated/Workspace.js';
export type { Image, ImageSpec, ImageStatus, ImageProgress, ImageConfig } from './generated/Image.js';
export type { Event, ObjectReference, EventSource } from './generated/Event.js';
export type { GitOpsSync, GitOpsSyncSpec, GitOpsSyncStatus, GitOpsSyncError, GitOpsObjectRef } from './generated/GitOpsSync.js';
export type {
  SandkastenConfig,
  ConfigDefaults,
  ConfigWorkspace,
  ConfigSecurity,
  ConfigPool,
  ConfigDashboard,
  ConfigGitops,
} from './generated/Config.js';
export { humanDuration } from './duration.js';
