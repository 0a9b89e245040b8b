// @sandkasten/skctl: the command line, also callable from code.
export { main, buildProgram } from './main.js';
export { CliError, describeError } from './errors.js';
export { JsonPath, JsonPathError, relaxedPath } from './output/jsonpath.js';
export { humanDuration, age } from './output/age.js';
export { configPath, loadConfig, saveConfig } from './config-file.js';
export type { ConfigFile, ContextEntry } from './config-file.js';
export { resolveConnection } from './connection.js';
export type { Connection, GlobalOptions } from './connection.js';
