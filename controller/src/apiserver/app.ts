// The express application behind the front handler (front.ts): discovery and OpenAPI documents,
// the routes extensions register (exec, fs, …), 404s, and the error middleware. Requests arrive
// here already authenticated and traced.

import express, { type Express, type Request, type Response, type Router } from 'express';
import { aggregatedDiscovery, AGGREGATED_V2, AGGREGATED_V2BETA1, apiGroup, apiGroupList, apiResourceList, apiVersions, versionInfo, wantsAggregated } from './discovery.js';
import { errorMiddleware, errors } from './errors.js';
import type { Logger } from './logger.js';
import { openApiV2, openApiV3GroupVersion, openApiV3Index } from './openapi.js';
import { sendJson, sendText } from './reply.js';
import { GROUP, GROUP_VERSION, type ResourceTable } from './resources.js';

export interface AppOptions {
  table: ResourceTable;
  /** The version reported by /version. */
  version: string;
  logger: Logger;
  extend?: (router: Router) => void;
}

export function expressApp({ table, version, logger, extend }: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  const getOnly = (path: string, handler: (req: Request, res: Response) => void) => {
    app.all(path, (req, res) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw errors.methodNotAllowed(req.method, path);
      handler(req, res);
    });
  };

  getOnly('/version', (_req, res) => sendJson(res, 200, versionInfo(version)));
  // The aggregated document when the client asks for it (kubectl does), else the legacy one.
  const discovery = (core: boolean, legacy: () => unknown) => (req: Request, res: Response) => {
    const agg = wantsAggregated(req);
    if (agg) sendJson(res, 200, aggregatedDiscovery(table, agg, core), agg === 'v2' ? AGGREGATED_V2 : AGGREGATED_V2BETA1);
    else sendJson(res, 200, legacy());
  };
  getOnly('/api', discovery(true, apiVersions));
  getOnly('/apis', discovery(false, apiGroupList));
  getOnly(`/apis/${GROUP}`, (_req, res) => sendJson(res, 200, { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup() }));
  getOnly(`/apis/${GROUP_VERSION}`, (_req, res) => sendJson(res, 200, apiResourceList(table)));

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
    sendText(res, 200, v2);
  });
  getOnly('/openapi/v3', (_req, res) => sendJson(res, 200, openapi3().index));
  getOnly(`/openapi/v3/apis/${GROUP_VERSION}`, (_req, res) => sendText(res, 200, openapi3().doc));

  if (extend) {
    const ext = express.Router();
    extend(ext);
    app.use(ext);
  }

  app.use((req) => {
    throw errors.pathNotFound(`${req.method} ${req.path}`);
  });
  app.use(errorMiddleware(logger));

  return app;
}
