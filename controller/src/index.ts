// The controller package: what other packages (CLI, SDK tests, end-to-end tests) may use.
export * as apiserver from './apiserver/index.js';
export * as store from './store/index.js';
export * as runtime from './runtime/index.js';
export { loadConfig, ConfigError } from './config/index.js';
export { createApiServer, ApiError } from './apiserver/index.js';
export { openSqliteStore } from './store/index.js';
