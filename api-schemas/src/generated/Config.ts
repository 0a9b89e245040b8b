// Generated from schemas/Config.json by scripts/generate-types.mjs — do not edit.
// Change the schema and run `npm run generate -w api-schemas`.

/**
 * The daemon's configuration file, sandkasten.yaml. Every key is optional; absent keys take their defaults.
 */
export interface SandkastenConfig {
  /**
   * host:port the API listens on. Port 0 picks a free port.
   */
  listen?: string;
  /**
   * Bearer token every request must carry. Empty: no authentication, which the daemon allows only on a loopback address.
   */
  api_key?: string;
  /**
   * PEM certificate (chain) to serve HTTPS with, together with tls_key_file. Empty: plain HTTP. kubectl and client-go send a bearer token only over HTTPS. The --tls-cert-file flag overrides it.
   */
  tls_cert_file?: string;
  /**
   * PEM private key of tls_cert_file. The --tls-private-key-file flag overrides it.
   */
  tls_key_file?: string;
  /**
   * Where the database, images, layers, sessions and workspaces live.
   */
  data_dir?: string;
  /**
   * The node-agent binary that realizes sandboxes. Empty: node-agent/build/node-agent of this installation.
   */
  node_agent_path?: string;
  /**
   * The runner binary (static) bind-mounted read-only into every sandbox as its PID 1. Empty: runner/build/runner of this installation.
   */
  runner_path?: string;
  /**
   * Image a Session gets when spec.image is absent.
   */
  default_image?: string;
  /**
   * Images sessions may use. Empty: all.
   */
  allowed_images?: string[];
  /**
   * Idle TTL of a session that sets none.
   */
  session_ttl_seconds?: number;
  /**
   * How long an Event is kept after it last occurred; a sweeper deletes older ones.
   */
  event_ttl_seconds?: number;
  defaults?: ConfigDefaults;
  workspace?: ConfigWorkspace;
  security?: ConfigSecurity;
  pool?: ConfigPool;
  dashboard?: ConfigDashboard;
  gitops?: ConfigGitops;
  /**
   * Registries (host[:port]) reached over plain HTTP or without TLS verification.
   */
  insecure_registries?: string[];
  log_level?: "debug" | "info" | "warn" | "error";
  /**
   * Largest request body the API accepts.
   */
  max_body_bytes?: number;
  /**
   * Largest file or tar archive a session's fs subresource accepts in one upload (PUT …/fs); larger is refused with 413. Also caps the bytes a tar upload extracts.
   */
  max_upload_bytes?: number;
}
/**
 * Limits of a session that sets none.
 */
export interface ConfigDefaults {
  /**
   * CPUs.
   */
  cpu_limit?: number;
  /**
   * Memory in MiB.
   */
  mem_limit_mb?: number;
  pids_limit?: number;
  /**
   * Longest timeout an exec may ask for.
   */
  max_exec_timeout_ms?: number;
  network_mode?: "none" | "bridge" | "host";
}
export interface ConfigWorkspace {
  enabled?: boolean;
  /**
   * Whether a session created through /v1 without workspace_id gets a persistent workspace.
   */
  persist_by_default?: boolean;
}
export interface ConfigSecurity {
  /**
   * Seccomp filter of sessions with securityProfile.seccomp "default": off, mvp (blocks dangerous syscalls) or strict.
   */
  seccomp?: "off" | "mvp" | "strict";
}
/**
 * Warm pool: sandboxes started ahead of demand.
 */
export interface ConfigPool {
  enabled?: boolean;
  /**
   * Image name → number of warm sandboxes.
   */
  images?: {
    [k: string]: number;
  };
}
export interface ConfigDashboard {
  enabled?: boolean;
}
/**
 * GitOps: the daemon applies the manifests in a directory (server-side apply, field manager "gitops") and keeps them applied, on every change and every interval_seconds. Present (even empty, or set by a SANDKASTEN_GITOPS_* variable): on. Absent: off.
 */
export interface ConfigGitops {
  /**
   * Directory of manifests (*.yaml, *.yml, *.json, searched recursively; dot files and directories are skipped). A relative path is relative to the directory of the config file (without a config file: the working directory).
   */
  path?: string;
  /**
   * Delete objects this directory applied whose manifests are gone. false: keep them and report them as orphaned in the GitOpsSync status.
   */
  prune?: boolean;
  /**
   * Full re-sync period, on top of file-change notifications.
   */
  interval_seconds?: number;
}
