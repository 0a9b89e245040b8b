// Sandboxes whose Session is gone: removed at the daemon's start (and now and then after).

import { readdirSync } from 'node:fs';
import type { Client } from '../client/index.js';
import { silentLogger, type Logger } from '../runtime/index.js';
import {
  containerId,
  removeCgroupLeftovers,
  removeSessionDir,
  sessionPaths,
  sessionsDir,
  uidOfContainer,
  type NodeAgent,
} from '../sandbox/index.js';

export interface OrphanReport {
  /** Container ids removed because no Session has their uid. */
  containers: string[];
  /** Session directories removed for the same reason. */
  directories: string[];
}

/**
 * Removes sandboxes and session directories whose Session no longer exists (deleted from the
 * database while the daemon was down, or a crash between steps). Containers and directories are
 * listed before the Sessions: a sandbox is made only for an existing Session and removed before its
 * Session goes, so nothing live is ever taken for an orphan.
 */
export async function collectOrphans(o: { client: Client; agent: NodeAgent; dataDir: string; logger?: Logger }): Promise<OrphanReport> {
  const log = o.logger ?? silentLogger;
  const containers = await o.agent.list();
  let dirs: string[] = [];
  try {
    dirs = readdirSync(sessionsDir(o.dataDir));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const uids = new Set((await o.client.list('sessions')).items.map((s) => s.metadata.uid));
  const report: OrphanReport = { containers: [], directories: [] };
  for (const c of containers) {
    const uid = uidOfContainer(c.id);
    if (!uid) {
      log.warn(`node-agent root ${o.agent.root} holds container ${c.id}, which is not a session's: left alone`);
      continue;
    }
    if (uids.has(uid)) continue;
    await o.agent.delete(c.id);
    removeCgroupLeftovers(uid);
    report.containers.push(c.id);
    log.info(`removed orphan sandbox ${c.id} (no Session has uid ${uid})`);
  }
  for (const d of dirs) {
    if (uids.has(d) || !/^[0-9a-f-]{36}$/.test(d)) continue;
    await o.agent.delete(containerId(d));
    removeCgroupLeftovers(d);
    removeSessionDir(sessionPaths(o.dataDir, d));
    report.directories.push(d);
    log.info(`removed orphan session directory sessions/${d}`);
  }
  return report;
}
