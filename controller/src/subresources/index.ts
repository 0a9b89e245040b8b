// Session subresources: exec, fs, stats and attach of a Ready Session, served by talking to its
// sandbox's runner (and, for attach, a PTY running node-agent exec). See README.md.

export { sessionSubresources, SESSION_PATH } from './routes.js';
export type { SubresourceOptions } from './routes.js';
export { defaultLocator, SessionResolver, ActivityRecorder } from './session.js';
export type { SandboxLocation, SandboxLocator, ReadySession } from './session.js';
export { nodeAgentTerminal, LOGIN_SHELL } from './attach.js';
export type { TerminalCommand, TerminalCommandFn } from './attach.js';
export { readCgroupStats, parseMountinfo, CgroupGoneError } from './stats.js';
export type { SessionStats } from './stats.js';
export { packTar, extractTar, entryPath } from './tar.js';
export type { ExtractSummary, PackSummary, SkippedEntry } from './tar.js';
