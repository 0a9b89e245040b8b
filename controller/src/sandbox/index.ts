// Sandboxes on this host: paths, the OCI bundle of a Session, seccomp profiles, the node-agent driver.

export {
  sessionPaths,
  sessionsDir,
  workspacePath,
  agentRoot,
  containerId,
  uidOfContainer,
  cgroupPath,
  SANDBOX_RUN_DIR,
  SANDBOX_SOCKET,
  SANDBOX_RUNNER,
} from './paths.js';
export type { SessionPaths } from './paths.js';
export {
  buildBundle,
  fixedSettings,
  imageNameOf,
  sessionLimits,
  ociResources,
  hostnameOf,
  fixedSettingsOf,
  limitsOf,
  changedSettings,
  BundleError,
  ANNOTATION_UID,
  ANNOTATION_NAME,
  ANNOTATION_NAMESPACE,
  ANNOTATION_FIXED,
  CPU_PERIOD_US,
} from './bundle.js';
export type { Bundle, BundleInput, FixedSettings, OciConfig, OciMount, OciResources, SessionLimits } from './bundle.js';
export { mvpProfile, strictProfile, seccompProfile, DENIED_SYSCALLS } from './seccomp-profiles.js';
export type { SeccompProfile, SeccompProfileName, SeccompRule } from './seccomp-profiles.js';
export { NodeAgent, NodeAgentError } from './node-agent.js';
export { DirectSpawner, ShellSpawner } from './spawner.js';
export type { SpawnOutput, SpawnResult, Spawner } from './spawner.js';
export type { ContainerState, ContainerStatus, NodeAgentOptions, ResourceUpdate } from './node-agent.js';
export { prepareSessionDirs, writeBundleConfig, readBundleConfig, removeSessionDir, removeCgroupLeftovers, hostHasSwapLimit, tailOf } from './host.js';
