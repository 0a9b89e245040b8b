// Which daemon to talk to, and as whom: command-line flags, then an explicitly chosen --context,
// then the environment (SANDKASTEN_SERVER, SANDKASTEN_API_KEY, SANDKASTEN_NAMESPACE), then the
// current context of the config file, then the defaults (http://127.0.0.1:8080, "default").

import { readFileSync } from 'node:fs';
import type { ClientOptions, SandboxClient } from '@sandkasten/client';
import { configPath, findContext, loadConfig, type ContextEntry } from './config-file.js';
import { CliError } from './errors.js';
import { parseDuration } from './util.js';

/** The options every command takes (defined on the program). */
export interface GlobalOptions {
  server?: string;
  token?: string;
  namespace?: string;
  context?: string;
  config?: string;
  insecureSkipTlsVerify?: boolean;
  certificateAuthority?: string;
  requestTimeout?: string;
}

export interface Connection {
  baseUrl: string;
  apiKey?: string;
  namespace: string;
  /** The namespace was named on the command line (-n). */
  namespaceFromFlag: boolean;
  insecureSkipTlsVerify: boolean;
  certificateAuthority?: string;
  context?: string;
  timeoutMs?: number;
}

export const DEFAULT_SERVER = 'http://127.0.0.1:8080';

export function resolveConnection(g: GlobalOptions, env: NodeJS.ProcessEnv = process.env): Connection {
  const cfg = loadConfig(configPath(g.config, env));
  let ctx: ContextEntry | undefined;
  if (g.context) {
    ctx = findContext(cfg, g.context);
    if (!ctx) throw new CliError(`context "${g.context}" not found in ${configPath(g.config, env)}`);
  } else if (cfg['current-context']) {
    ctx = findContext(cfg, cfg['current-context']);
  }
  const explicit = g.context ? ctx : undefined;
  const pick = (flag: string | undefined, key: 'server' | 'api-key' | 'namespace', envName: string) =>
    flag || explicit?.[key] || env[envName] || ctx?.[key] || undefined;
  const server = pick(g.server, 'server', 'SANDKASTEN_SERVER') ?? DEFAULT_SERVER;
  const ns = pick(g.namespace, 'namespace', 'SANDKASTEN_NAMESPACE') ?? 'default';
  return {
    baseUrl: /^[a-z]+:\/\//i.test(server) ? server : `http://${server}`,
    apiKey: pick(g.token, 'api-key', 'SANDKASTEN_API_KEY'),
    namespace: ns,
    namespaceFromFlag: Boolean(g.namespace),
    insecureSkipTlsVerify: Boolean(g.insecureSkipTlsVerify || ctx?.['insecure-skip-tls-verify']),
    certificateAuthority: g.certificateAuthority || ctx?.['certificate-authority'],
    context: ctx?.name,
    timeoutMs: g.requestTimeout !== undefined ? parseDuration(g.requestTimeout, '--request-timeout') : undefined,
  };
}

/** The one client of a command run; warnings from the server go to stderr, as kubectl's. */
export async function makeClient(g: GlobalOptions): Promise<{ client: SandboxClient; conn: Connection }> {
  const conn = resolveConnection(g);
  const { SandboxClient } = await import('@sandkasten/client');
  const opts: ClientOptions = {
    baseUrl: conn.baseUrl,
    apiKey: conn.apiKey,
    namespace: conn.namespace,
    userAgent: `skctl/${CLIENT_VERSION} node/${process.versions.node}`,
    onWarning: (w) => process.stderr.write(`Warning: ${w}\n`),
  };
  if (conn.timeoutMs !== undefined) opts.timeoutMs = conn.timeoutMs;
  if (conn.insecureSkipTlsVerify || conn.certificateAuthority) {
    let ca: string | undefined;
    if (conn.certificateAuthority) {
      try {
        ca = readFileSync(conn.certificateAuthority, 'utf8');
      } catch (e) {
        throw new CliError(`cannot read the certificate authority ${conn.certificateAuthority}: ${(e as Error).message}`);
      }
    }
    opts.tls = { ca, insecureSkipVerify: conn.insecureSkipTlsVerify };
  }
  try {
    return { client: new SandboxClient(opts), conn };
  } catch (e) {
    throw new CliError(`${(e as Error).message} (from --server, SANDKASTEN_SERVER or the context)`);
  }
}

export const CLIENT_VERSION = '0.1.0';
