// The API server: sandkasten.dev/v1 resources over a Store, as stock Kubernetes clients expect.

export { createApiServer, DEFAULT_MAX_BODY_BYTES, KEEP_ALIVE_TIMEOUT_MS } from './server.js';
export type { ApiServer, ApiServerConfig, ApiServerOptions } from './server.js';
export { ApiError, errors, errorMiddleware } from './errors.js';
export type { Status, StatusCause, StatusDetails } from './errors.js';
export { createLogger, silentLogger, isLogLevel, logEnabled } from './logger.js';
export type { Logger, LogLevel } from './logger.js';
export { bearerCheck, isLoopbackHost, parseListen } from './auth.js';
export { BEARER_PROTOCOL_PREFIX, isUpgrade, takeUpgrade } from './upgrade.js';
export type { Upgrade } from './upgrade.js';
export { readBody } from './body.js';
export { sendJson, sendText } from './reply.js';
export { parseLabelSelector, matchesLabels, parseFieldSelector, matchesFields } from './selectors.js';
export type { Selector, Requirement, FieldRequirement } from './selectors.js';
export { mergePatch, applyMerge, applyJsonPatch, deepEqual } from './merge.js';
export { LAST_APPLIED, nowRfc3339 } from './registry.js';
export { GROUP, VERSION, GROUP_VERSION, defaultResourceTable, schemaValidator, withConfigDefaults } from './resources.js';
export type { ResourceDef, ResourceTable, Validator } from './resources.js';
export type { WatchLimits } from './watch.js';
