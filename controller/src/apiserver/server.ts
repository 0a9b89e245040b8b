// createApiServer: sandkasten.dev/v1 over a Store, plus the discovery and OpenAPI documents stock
// kubectl and client libraries need, health endpoints, authentication, one trace line per request,
// and a graceful close that ends watch streams. Resource requests are served on plain node:http
// (front.ts); the rest by an express application, which extensions add routes to.

import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Router } from 'express';
import type { Store } from '../store/types.js';
import { bearerCheck, isLoopbackHost, parseListen } from './auth.js';
import { expressApp } from './app.js';
import { ApiError } from './errors.js';
import { frontHandler } from './front.js';
import { resourceEndpoints } from './handlers.js';
import { silentLogger, type Logger } from './logger.js';
import { defaultResourceTable, schemaValidator, withConfigDefaults, type ResourceTable, type Validator } from './resources.js';
import { Registry } from './registry.js';
import { upgradeListener } from './upgrade.js';
import { WatchHub, type WatchLimits } from './watch.js';

/** The config keys the API server reads (a subset of sandkasten.yaml). */
export interface ApiServerConfig {
  listen?: string;
  api_key?: string;
  /** Largest request body; default 3 MiB, as Kubernetes. */
  max_body_bytes?: number;
  /** Filled into Sessions that name no image. */
  default_image?: string;
}

export interface ApiServerOptions {
  store: Store;
  config: ApiServerConfig;
  logger?: Logger;
  /** Registers more routes behind authentication, before the resource routes (e.g. exec, fs). */
  extend?: (router: Router) => void;
  /**
   * Answers a request that failed authentication, returning true, when its path has an error
   * shape of its own (the /v1 API's); otherwise (false) the usual 401 Status is sent.
   */
  unauthorized?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
  watch?: Partial<WatchLimits>;
  /**
   * Serve HTTPS with this certificate and key (PEM). Needed for bearer tokens from kubectl and
   * client-go, which send credentials only over TLS.
   */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** The version reported by /version. */
  version?: string;
  table?: ResourceTable;
  validator?: Validator;
}

export interface ApiServer {
  /** The whole API as a node:http request listener (authentication included). */
  handler: http.RequestListener;
  /**
   * The listener for the server's 'upgrade' event (WebSocket routes such as attach); listen()
   * installs it. Upgrade requests go through `handler` too (see upgrade.ts).
   */
  upgrade: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Listens on `listen` (default: config.listen). Resolves with the bound address. */
  listen(listen?: string): Promise<{ host: string; port: number; url: string }>;
  /** Stops accepting, ends watch streams, waits for in-flight requests (forcing after graceMs). */
  close(graceMs?: number): Promise<void>;
  hub: WatchHub;
  server?: http.Server | https.Server;
}

export const DEFAULT_MAX_BODY_BYTES = 3 * 1024 * 1024;

/** Idle keep-alive connections stay open this long (clients such as client-go keep theirs 90 s). */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

export function createApiServer(opts: ApiServerOptions): ApiServer {
  const { store, config } = opts;
  const logger = opts.logger ?? silentLogger;
  const table = opts.table ?? defaultResourceTable();
  const validator = opts.validator ?? withConfigDefaults(schemaValidator, opts.config);
  const hub = new WatchHub();
  const limits: WatchLimits = { bookmarkIntervalMs: 5_000, maxBufferedBytes: 16 * 1024 * 1024, ...opts.watch };
  const maxBody = config.max_body_bytes ?? DEFAULT_MAX_BODY_BYTES;
  const version = opts.version ?? '0.1.0';

  // Objects left marked for deletion without finalizers (a crash between two writes) go now.
  for (const d of table.defs) {
    const n = new Registry(store, d, validator).sweep();
    if (n > 0) logger.info(`removed ${n} ${d.plural} whose deletion had not completed`);
  }

  const app = expressApp({ table, version, logger, extend: opts.extend });

  const handler = frontHandler({
    logger,
    authorized: bearerCheck(config.api_key ?? ''),
    resources: resourceEndpoints({ store, table, validator, hub, limits, logger, maxBodyBytes: maxBody }),
    next: app,
    unauthorized: opts.unauthorized,
  });

  // Upgraded connections are not the http server's to close: close() ends them.
  const upgraded = new Set<Duplex>();
  const api: ApiServer = {
    handler,
    upgrade: upgradeListener(handler, upgraded),
    hub,
    listen(listen = config.listen ?? '127.0.0.1:8080') {
      const { host, port } = parseListen(listen);
      if (!config.api_key && !isLoopbackHost(host)) {
        return Promise.reject(new Error(`refusing to listen on ${listen} without an api_key: an open API is allowed only on a loopback address`));
      }
      // noDelay: small responses and watch lines go out at once instead of waiting on Nagle.
      const server = opts.tls ? https.createServer({ cert: opts.tls.cert, key: opts.tls.key, noDelay: true }, handler) : http.createServer({ noDelay: true }, handler);
      server.on('upgrade', api.upgrade);
      server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
      // Headers of a request on a reused connection must be allowed to arrive after the idle wait.
      server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
      // Watches are long-lived; no request timeout (they end by timeoutSeconds or the client).
      server.requestTimeout = 0;
      api.server = server;
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const a = server.address() as AddressInfo;
          const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
          resolve({ host: a.address, port: a.port, url: `${opts.tls ? 'https' : 'http'}://${h}:${a.port}` });
        });
      });
    },
    close(graceMs = 5_000) {
      hub.closeAll();
      for (const s of upgraded) s.destroy();
      const server = api.server;
      if (!server) return Promise.resolve();
      return new Promise((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
    },
  };
  return api;
}

export { ApiError };
