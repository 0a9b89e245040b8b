// The runner client: exec, run, signal, file operations and lifecycle of a sandbox's runner.
export { RunnerClient, RunnerError } from './client.js';
export type {
  ExecOptions,
  ExecResult,
  ExecStream,
  FileInfo,
  FileType,
  PathLike,
  ReadOptions,
  RunOptions,
  RunResult,
  RunnerClientOptions,
  RunnerInfo,
  SignalResult,
  WriteOptions,
  WriteSource,
} from './client.js';
export { PROTOCOL_VERSION } from './protocol.js';
