// createApiServer: the express application serving sandkasten.dev/v1 over a Store, plus the
// discovery and OpenAPI documents stock kubectl and client libraries need, health endpoints,
// authentication, one trace line per request, and a graceful close that ends watch streams.

import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import express, { type Express, type Request, type Response, type Router } from 'express';
import type { Store } from '../store/types.js';
import { bearerAuth, isLoopbackHost, parseListen } from './auth.js';
import { aggregatedDiscovery, AGGREGATED_V2, AGGREGATED_V2BETA1, apiGroup, apiGroupList, apiResourceList, apiVersions, versionInfo, wantsAggregated } from './discovery.js';
import { ApiError, errorMiddleware, errors } from './errors.js';
import { resourceRouter } from './handlers.js';
import { silentLogger, type Logger } from './logger.js';
import { openApiV2, openApiV3GroupVersion, openApiV3Index } from './openapi.js';
import { defaultResourceTable, GROUP, GROUP_VERSION, schemaValidator, type ResourceTable, type Validator } from './resources.js';
import { Registry } from './registry.js';
import { WatchHub, type WatchLimits } from './watch.js';

/** The config keys the API server reads (a subset of sandkasten.yaml). */
export interface ApiServerConfig {
  listen?: string;
  api_key?: string;
  /** Largest request body; default 3 MiB, as Kubernetes. */
  max_body_bytes?: number;
}

export interface ApiServerOptions {
  store: Store;
  config: ApiServerConfig;
  logger?: Logger;
  /** Registers more routes behind authentication, before the resource routes (e.g. exec, fs). */
  extend?: (router: Router) => void;
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
  app: Express;
  /** Listens on `listen` (default: config.listen). Resolves with the bound address. */
  listen(listen?: string): Promise<{ host: string; port: number; url: string }>;
  /** Stops accepting, ends watch streams, waits for in-flight requests (forcing after graceMs). */
  close(graceMs?: number): Promise<void>;
  hub: WatchHub;
  server?: http.Server | https.Server;
}

export const DEFAULT_MAX_BODY_BYTES = 3 * 1024 * 1024;

function sendJson(res: Response, body: unknown, contentType = 'application/json'): void {
  res.status(200).setHeader('Content-Type', contentType);
  res.end(JSON.stringify(body));
}

export function createApiServer(opts: ApiServerOptions): ApiServer {
  const { store, config } = opts;
  const logger = opts.logger ?? silentLogger;
  const table = opts.table ?? defaultResourceTable();
  const validator = opts.validator ?? schemaValidator;
  const hub = new WatchHub();
  const limits: WatchLimits = { bookmarkIntervalMs: 5_000, maxBufferedBytes: 16 * 1024 * 1024, ...opts.watch };
  const maxBody = config.max_body_bytes ?? DEFAULT_MAX_BODY_BYTES;
  const version = opts.version ?? '0.1.0';

  // Objects left marked for deletion without finalizers (a crash between two writes) go now.
  for (const d of table.defs) {
    const n = new Registry(store, d, validator).sweep();
    if (n > 0) logger.info(`removed ${n} ${d.plural} whose deletion had not completed`);
  }

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  // One trace line per request: `VERB path => code`.
  app.use((req, res, next) => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      const line = `${req.method} ${req.originalUrl} => ${res.statusCode} (${ms.toFixed(1)} ms)`;
      if (res.statusCode >= 500) logger.error(line);
      else if (res.statusCode >= 400 && res.statusCode !== 404 && res.statusCode !== 409 && res.statusCode !== 410) logger.warn(line);
      else logger.debug(line);
    });
    next();
  });

  const ok = (_req: Request, res: Response) => {
    res.status(200).type('text/plain').send('ok');
  };
  // Open health endpoints; /healthz answers as the original /v1 API did.
  app.get('/healthz', (_req, res) => sendJson(res, { status: 'ok' }));
  app.get('/livez', ok);
  app.get('/readyz', ok);

  app.use(bearerAuth(config.api_key ?? ''));

  const getOnly = (path: string, handler: (req: Request, res: Response) => void) => {
    app.all(path, (req, res) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw errors.methodNotAllowed(req.method, path);
      handler(req, res);
    });
  };

  getOnly('/version', (_req, res) => sendJson(res, versionInfo(version)));
  getOnly('/api', (req, res) => {
    const agg = wantsAggregated(req);
    if (agg) sendJson(res, aggregatedDiscovery(table, agg, true), agg === 'v2' ? AGGREGATED_V2 : AGGREGATED_V2BETA1);
    else sendJson(res, apiVersions());
  });
  getOnly('/apis', (req, res) => {
    const agg = wantsAggregated(req);
    if (agg) sendJson(res, aggregatedDiscovery(table, agg, false), agg === 'v2' ? AGGREGATED_V2 : AGGREGATED_V2BETA1);
    else sendJson(res, apiGroupList());
  });
  getOnly(`/apis/${GROUP}`, (_req, res) => sendJson(res, { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup() }));
  getOnly(`/apis/${GROUP_VERSION}`, (_req, res) => sendJson(res, apiResourceList(table)));

  // The documents are derived once; they only change with the schemas.
  let v2: string | undefined;
  let v3: { index: unknown; doc: string } | undefined;
  const openapi3 = () => {
    if (!v3) {
      const doc = openApiV3GroupVersion(table);
      v3 = { index: openApiV3Index(doc), doc: JSON.stringify(doc) };
    }
    return v3;
  };
  getOnly('/openapi/v2', (_req, res) => {
    v2 ??= JSON.stringify(openApiV2(table));
    res.status(200).type('application/json').send(v2);
  });
  getOnly('/openapi/v3', (_req, res) => sendJson(res, openapi3().index));
  getOnly(`/openapi/v3/apis/${GROUP_VERSION}`, (_req, res) => {
    res.status(200).type('application/json').send(openapi3().doc);
  });

  if (opts.extend) {
    const ext = express.Router();
    opts.extend(ext);
    app.use(ext);
  }

  const resources = express.Router();
  resources.use(express.raw({ type: () => true, limit: maxBody }));
  resources.use(resourceRouter({ store, table, validator, hub, limits, logger }));
  app.use(`/apis/${GROUP_VERSION}`, resources);

  app.use((req) => {
    throw errors.pathNotFound(`${req.method} ${req.path}`);
  });
  app.use(errorMiddleware(logger));

  const api: ApiServer = {
    app,
    hub,
    listen(listen = config.listen ?? '127.0.0.1:8080') {
      const { host, port } = parseListen(listen);
      if (!config.api_key && !isLoopbackHost(host)) {
        return Promise.reject(new Error(`refusing to listen on ${listen} without an api_key: an open API is allowed only on a loopback address`));
      }
      // noDelay: small responses and watch lines go out at once instead of waiting on Nagle.
      const server = opts.tls ? https.createServer({ cert: opts.tls.cert, key: opts.tls.key, noDelay: true }, app) : http.createServer({ noDelay: true }, app);
      server.keepAliveTimeout = 65_000;
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
