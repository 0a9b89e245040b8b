// Generated from schemas/Session.json by scripts/generate-types.mjs — do not edit.
// Change the schema and run `npm run generate -w api-schemas`.

import type { Condition } from './Condition.js';
import type { CpuQuantity } from './CpuQuantity.js';
import type { ObjectMeta } from './ObjectMeta.js';
import type { Quantity } from './Quantity.js';

/**
 * A sandbox: a persistent shell in an isolated root filesystem made from an Image, optionally with a Workspace mounted.
 */
export interface Session {
  apiVersion: "sandkasten.dev/v1";
  kind: "Session";
  metadata: ObjectMeta;
  spec?: SessionSpec;
  status?: SessionStatus;
}
export interface SessionSpec {
  /**
   * Name of the Image the root filesystem is made from. Default: the daemon's default_image.
   */
  image?: string;
  /**
   * Workspace to mount: its name (mounted at /workspace), or a reference with a mount path.
   */
  workspace?: string | WorkspaceMount;
  /**
   * Idle time-to-live: the session expires after this many seconds without activity. 0 or absent: the daemon's session_ttl_seconds.
   */
  ttlSeconds?: number;
  /**
   * Hard limit on the session's age, activity or not. Absent: none.
   */
  maxLifetimeSeconds?: number;
  resources?: SessionResources;
  network?: SessionNetwork;
  /**
   * Environment variables of the shell and of every exec.
   *
   * @maxItems 256
   */
  env?: EnvVar[];
  /**
   * Initial working directory of the shell. Default: the image's, else /workspace when a workspace is mounted, else /.
   */
  workingDir?: string;
  securityProfile?: SecurityProfile;
  /**
   * Hostname inside the sandbox (a DNS-1123 label). Default: the session's name, cut to 63 characters.
   */
  hostname?: string;
}
export interface WorkspaceMount {
  /**
   * Name of a Workspace in the session's namespace.
   */
  name: string;
  /**
   * Where the workspace appears inside the sandbox.
   */
  mountPath?: string;
}
/**
 * Resource limits. Absent fields take the daemon's defaults (defaults.cpu_limit, mem_limit_mb, pids_limit).
 */
export interface SessionResources {
  cpu?: CpuQuantity;
  memory?: Quantity;
  /**
   * Maximum number of processes and threads.
   */
  pids?: number;
}
export interface SessionNetwork {
  /**
   * none: loopback only; host: the host's network; bridge: a private network with outbound access.
   */
  mode?: "none" | "host" | "bridge";
}
export interface EnvVar {
  name: string;
  value?: string;
}
export interface SecurityProfile {
  /**
   * default: the daemon's configured filter (security.seccomp); strict: the strict filter; unconfined: no filter (the daemon may refuse it).
   */
  seccomp?: "default" | "strict" | "unconfined";
}
export interface SessionStatus {
  phase?: "Pending" | "Starting" | "Ready" | "Terminating" | "Failed" | "Expired";
  conditions?: Condition[];
  observedGeneration?: number;
  sandbox?: SandboxStatus;
  /**
   * RFC 3339 time of the last exec, file operation or terminal input.
   */
  lastActivityTime?: string;
  /**
   * RFC 3339 time the session expires unless there is activity first.
   */
  expireTime?: string;
  message?: string;
  reason?: string;
}
/**
 * The running sandbox realizing this session.
 */
export interface SandboxStatus {
  /**
   * node-agent container id.
   */
  id?: string;
  /**
   * Host pid of the sandbox's PID 1 (the runner).
   */
  pid?: number;
  /**
   * cgroup path of the sandbox.
   */
  cgroup?: string;
  startedAt?: string;
  /**
   * Node-local address of the runner's control socket.
   */
  runnerSocket?: string;
}
