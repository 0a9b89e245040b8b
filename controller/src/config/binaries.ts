// Where the node-agent and runner binaries are: the config keys node_agent_path and runner_path
// (SANDKASTEN_NODE_AGENT_PATH, SANDKASTEN_RUNNER_PATH), or when empty the ones `make` builds in
// this installation, found relative to this package so it works from any working directory.

import { fileURLToPath } from 'node:url';

/** node-agent/build/node-agent of this installation (from controller/dist/config/). */
export const BUNDLED_NODE_AGENT = fileURLToPath(new URL('../../../node-agent/build/node-agent', import.meta.url));
/** runner/build/runner of this installation. */
export const BUNDLED_RUNNER = fileURLToPath(new URL('../../../runner/build/runner', import.meta.url));

export function nodeAgentPath(config: { node_agent_path?: string }): string {
  return config.node_agent_path || BUNDLED_NODE_AGENT;
}

export function runnerPath(config: { runner_path?: string }): string {
  return config.runner_path || BUNDLED_RUNNER;
}
