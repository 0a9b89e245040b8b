// The daemon's wiring, apart from its command line: data directory, store, compactor, API server,
// event sweeper, the built-in image, controllers, GitOps.

import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import { createApiServer, isLoopbackHost, parseListen, type ApiServer, type Logger } from '../apiserver/index.js';
import type { ResolvedConfig } from '../config/index.js';
import { openSqliteStore, startCompactor, type Store } from '../store/index.js';
import { startEventSweeper, storeEventSink } from '../events/index.js';
import { BUILTIN_IMAGE, prepareBuiltinImage, readImageMeta } from '../images/index.js';
import { startControllers, type Controllers } from '../controllers/index.js';
import { sessionSubresources } from '../subresources/index.js';
import { seedApi } from '../facade/index.js';
import { startGitOps, type GitOpsSyncer } from '../gitops/index.js';

export interface Daemon {
  api: ApiServer;
  store: Store;
  url: string;
  /** Absent in API-only mode. */
  controllers?: Controllers;
  /** The GitOps syncer, when the config has a gitops section. */
  gitops?: GitOpsSyncer;
  /** Stops GitOps and the controllers (sandboxes go on), ends watches, stops listening, the event sweeper and the compactor, closes the database. Idempotent. */
  close(): Promise<void>;
}

/** History the compactor always keeps: watches can resume across this much. */
export const COMPACT_KEEP_EVENTS = 1000;
export const COMPACT_KEEP_MS = 5 * 60 * 1000;
const COMPACT_INTERVAL_MS = 60 * 1000;

export class StartupError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'StartupError';
  }
}

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

/** Reads the certificate and key and checks that they make a usable pair, before anything starts. */
function loadTls(files: TlsFiles): { cert: Buffer; key: Buffer } {
  const read = (what: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new StartupError(`TLS ${what} ${path}: cannot read: ${err.code === 'ENOENT' ? 'no such file' : err.message}`, 2);
    }
  };
  const pair = { cert: read('certificate', files.certFile), key: read('key', files.keyFile) };
  try {
    createSecureContext(pair);
  } catch (e) {
    throw new StartupError(`TLS: ${files.certFile} and ${files.keyFile} are not a usable PEM certificate and key: ${(e as Error).message}`, 2);
  }
  return pair;
}

export interface DaemonOptions {
  /** false: serve the API only, with no reconcilers (nothing on the host changes). Default true. */
  controllers?: boolean;
  /** What a relative gitops.path is relative to: the config file's directory. Default: the working directory. */
  configDir?: string;
}

export async function startDaemon(config: ResolvedConfig, logger: Logger, version: string, tlsFiles?: TlsFiles, options: DaemonOptions = {}): Promise<Daemon> {
  let host: string;
  try {
    host = parseListen(config.listen).host;
  } catch (e) {
    throw new StartupError(`listen: ${(e as Error).message}`, 2);
  }
  if (!config.api_key && !isLoopbackHost(host)) {
    throw new StartupError(
      `refusing to listen on ${config.listen} without an api_key: set api_key (or SANDKASTEN_API_KEY), or listen on a loopback address such as 127.0.0.1`,
      2,
    );
  }
  const tls = tlsFiles && loadTls(tlsFiles);
  try {
    mkdirSync(config.data_dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new StartupError(`data_dir ${config.data_dir}: cannot create: ${(e as Error).message}`, 1);
  }
  const dbPath = join(config.data_dir, 'sandkasten.db');
  let store: Store;
  try {
    store = openSqliteStore(dbPath);
  } catch (e) {
    throw new StartupError(`cannot open ${dbPath}: ${(e as Error).message}`, 1);
  }
  const stopCompactor = startCompactor(store, COMPACT_INTERVAL_MS, {
    minEvents: COMPACT_KEEP_EVENTS,
    minAgeMs: COMPACT_KEEP_MS,
    onError: (e) => logger.error(`store compaction failed: ${String(e)}`),
  });
  const subresources = sessionSubresources({ store, config, logger });
  // The original /v1 API beside the resources; its 401s have its own error shape.
  const v1 = seedApi({ store, config, logger });
  const api = createApiServer({ store, config, logger, version, tls, extend: (r) => (subresources(r), v1.routes(r)), unauthorized: v1.unauthorized });
  let url: string;
  try {
    url = (await api.listen(config.listen)).url;
  } catch (e) {
    stopCompactor();
    store.close();
    throw new StartupError(`cannot listen on ${config.listen}: ${(e as Error).message}`, 1);
  }
  // Events expire event_ttl_seconds after they were last seen.
  const sweeper = startEventSweeper({ sink: storeEventSink(store), ttlSeconds: config.event_ttl_seconds, logger });
  prepareDefaultImage(config.data_dir, logger);
  let controllers: Controllers | undefined;
  try {
    if (options.controllers !== false) controllers = await startControllers({ store, config, logger });
  } catch (e) {
    await api.close();
    await sweeper.stop();
    stopCompactor();
    store.close();
    throw new StartupError(`cannot start the controllers: ${(e as Error).message}`, 1);
  }
  // GitOps only writes API objects, so it runs in API-only mode too (the objects are then stored, not realized).
  let gitops: GitOpsSyncer | undefined;
  if (config.gitops) {
    const dir = resolve(options.configDir ?? process.cwd(), config.gitops.path);
    try {
      gitops = await startGitOps({ store, dir, prune: config.gitops.prune, intervalSeconds: config.gitops.interval_seconds, logger, config });
      logger.info(`gitops: keeping ${dir} applied (GitOpsSync ${gitops.name}, prune ${config.gitops.prune ? 'on' : 'off'})`);
    } catch (e) {
      await controllers?.stop();
      await api.close();
      await sweeper.stop();
      stopCompactor();
      store.close();
      throw new StartupError(`cannot start GitOps on ${dir}: ${(e as Error).message}`, 1);
    }
  }
  let closing: Promise<void> | undefined;
  return {
    api,
    store,
    url,
    controllers,
    gitops,
    close() {
      closing ??= (async () => {
        await gitops?.stop();
        await controllers?.stop();
        await api.close();
        await sweeper.stop();
        stopCompactor();
        store.close();
      })();
      return closing;
    },
  };
}

/** The built-in offline image, when missing: a fresh data_dir gives working sessions at once. */
function prepareDefaultImage(dataDir: string, logger: Logger): void {
  try {
    if (readImageMeta(dataDir, BUILTIN_IMAGE)) return;
    const meta = prepareBuiltinImage(dataDir);
    logger.info(`prepared the built-in image ${meta.name} (${meta.source})`);
  } catch (e) {
    logger.error(`cannot prepare the built-in image ${BUILTIN_IMAGE}: ${(e as Error).message}`);
  }
}
