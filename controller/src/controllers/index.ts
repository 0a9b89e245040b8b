// The daemon's controllers over its in-process store: Session (sandboxes), Workspace (directories),
// Image (root filesystems) and the TTL reaper, sharing one Manager's informers, one API client and
// one event recorder.

import type { ResolvedConfig } from '@sandkasten/api-schemas';
import { Client } from '../client/index.js';
import { nodeAgentPath, runnerPath } from '../config/index.js';
import { EventRecorder, storeEventSink } from '../events/index.js';
import { Manager, errorMessage, silentLogger, storeListerWatcher, type Logger } from '../runtime/index.js';
import { agentRoot, NodeAgent } from '../sandbox/index.js';
import type { Store } from '../store/types.js';
import { reaperController } from './reaper.js';
import { collectOrphans } from './orphans.js';
import { imageController } from './image.js';
import { sessionController } from './session.js';
import { workspaceController } from './workspace.js';

export { SESSION_FINALIZER, SessionReconciler, sessionController } from './session.js';
export type { SessionControllerOptions } from './session.js';
export { collectOrphans } from './orphans.js';
export { IMAGE_FINALIZER, PULL_REQUEST_ANNOTATION, adoptImages, imageController, imageUsers } from './image.js';
export type { ImageControllerOptions } from './image.js';
export type { OrphanReport } from './orphans.js';

export interface StartControllersOptions {
  store: Store;
  config: ResolvedConfig;
  logger?: Logger;
  /** Default: config.data_dir. */
  dataDir?: string;
  /** Health check period of Ready sessions (default 10 s). */
  healthCheckMs?: number;
  /** How often sandboxes without a Session are looked for after the start (default 10 min; 0 = only at start). */
  orphanScanMs?: number;
}

export interface Controllers {
  manager: Manager;
  client: Client;
  agent: NodeAgent;
  recorder: EventRecorder;
  /** Stops every controller (in-flight reconciles finish) and writes the pending Events. Sandboxes go on. */
  stop(): Promise<void>;
}

export const CONTROLLER_COMPONENT = 'sandkasten-controller';

/**
 * Starts the controllers. Before they run, sandboxes and session directories whose Session no
 * longer exists are removed; running sandboxes of existing Sessions are then adopted by the
 * Session controller as it reconciles each one.
 */
export async function startControllers(o: StartControllersOptions): Promise<Controllers> {
  const log = o.logger ?? silentLogger;
  const dataDir = o.dataDir ?? o.config.data_dir;
  const client = new Client(o.store, { fieldManager: CONTROLLER_COMPONENT });
  const recorder = new EventRecorder({ sink: storeEventSink(o.store), component: CONTROLLER_COMPONENT, logger: log });
  const agent = new NodeAgent({ binary: nodeAgentPath(o.config), root: agentRoot(dataDir) });
  const manager = new Manager({ listerWatcher: (r) => storeListerWatcher(o.store, r), logger: log });
  sessionController({
    client,
    manager,
    config: o.config,
    dataDir,
    agent,
    runnerPath: runnerPath(o.config),
    recorder,
    ...(o.healthCheckMs !== undefined && { healthCheckMs: o.healthCheckMs }),
  });
  workspaceController({ client, manager, dataDir, config: o.config, recorder, logger: log });
  // The Session controller's first status write carries expireTime: the reaper need not write it.
  reaperController({ client, manager, config: o.config, recorder, logger: log, firstWriteGraceMs: 5000 });
  imageController({ client, manager, config: o.config, dataDir, recorder, logger: log });

  const scan = async () => {
    try {
      const r = await collectOrphans({ client, agent, dataDir, logger: log });
      if (r.containers.length + r.directories.length > 0) {
        log.info(`orphans removed: ${r.containers.length} sandboxes, ${r.directories.length} session directories`);
      }
    } catch (e) {
      log.error(`orphan scan failed: ${errorMessage(e)}`);
    }
  };
  await scan();
  await manager.start();
  const every = o.orphanScanMs ?? 10 * 60_000;
  const timer = every > 0 ? setInterval(() => void scan(), every) : undefined;
  timer?.unref();
  let stopping: Promise<void> | undefined;
  return {
    manager,
    client,
    agent,
    recorder,
    stop() {
      stopping ??= (async () => {
        if (timer) clearInterval(timer);
        await manager.stop();
        await recorder.close();
      })();
      return stopping;
    },
  };
}
