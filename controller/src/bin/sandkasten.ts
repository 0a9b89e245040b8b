#!/usr/bin/env node
// sandkasten — the daemon: `sandkasten --config sandkasten.yaml`; `sandkasten doctor` checks the
// host, `sandkasten init --config FILE` sets it up.

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createLogger, isLogLevel } from '../apiserver/index.js';
import { ConfigError, loadConfig } from '../config/index.js';
import { doctorCommand, initCommand } from '../doctor/index.js';
import { imageCommand } from '../images/index.js';
import { startDaemon, StartupError, type Daemon } from './daemon.js';

const usage = `Usage: sandkasten [--config FILE] [--log-level LEVEL] [--tls-cert-file FILE --tls-private-key-file FILE] [--api-only]
       sandkasten [--config FILE] doctor [--json]
       sandkasten init --config FILE [--data-dir DIR]
       sandkasten [--config FILE] image pull|import|list|validate|delete ...

The Sandkasten daemon: serves the sandkasten.dev/v1 API (Sessions, Workspaces, Images) and
keeps the host converged to it.

Commands:
  doctor               Checks that this host can run sandboxes (exit 1 if not).
  init                 Writes a config with a new api_key (never over an existing one),
                       creates data_dir and prepares the built-in image.
  image                Pulls images from OCI registries (no Docker), imports rootfs
                       tarballs, lists, validates and deletes images
                       (\`sandkasten image --help\`).

Options:
  -c, --config FILE    YAML configuration (listen, api_key, data_dir, ...). Without it, defaults.
      --log-level L    Overrides log_level.
      --tls-cert-file FILE, --tls-private-key-file FILE
                       Serve HTTPS with these PEM files; override tls_cert_file and
                       tls_key_file. kubectl and client-go send a bearer token only
                       over HTTPS.
      --api-only       Serves the API without the controllers: objects are stored and
                       watched, but no sandbox, workspace or image is made (benchmarks,
                       a second API replica).
  -h, --help           Shows this help.
  -v, --version        Prints the version.

Every configuration key can be overridden by an environment variable: SANDKASTEN_LISTEN,
SANDKASTEN_API_KEY, SANDKASTEN_DATA_DIR, SANDKASTEN_DEFAULTS_MEM_LIMIT_MB, ...
`;

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function fail(message: string, code: number): never {
  process.stderr.write(`sandkasten: ${message}\n`);
  process.exit(code);
}

interface Args {
  /** A subcommand and its own arguments; absent: run the daemon. */
  command?: { name: 'doctor' | 'init' | 'image'; argv: string[] };
  config?: string;
  logLevel?: string;
  tlsCert?: string;
  tlsKey?: string;
  apiOnly?: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) fail(`${flag} needs a value\n\n${usage}`, 2);
      return v;
    };
    switch (flag) {
      case '-h':
      case '--help':
        process.stdout.write(usage);
        process.exit(0);
      // falls through (exit does not return)
      case '-v':
      case '--version':
        process.stdout.write(`sandkasten ${version()}\n`);
        process.exit(0);
      // falls through
      case '-c':
      case '--config':
        args.config = value();
        break;
      case '--log-level':
        args.logLevel = value();
        break;
      case '--tls-cert-file':
        args.tlsCert = value();
        break;
      case '--tls-private-key-file':
        args.tlsKey = value();
        break;
      case '--api-only':
        args.apiOnly = true;
        break;
      case 'doctor':
      case 'init':
      case 'image':
        args.command = { name: flag, argv: argv.slice(i + 1) };
        return args;
      default:
        fail(`unknown argument ${JSON.stringify(a)}\n\n${usage}`, 2);
    }
  }
  return args;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.command?.name === 'image') process.exit(await imageCommand(args.command.argv, args.config));
  if (args.command) {
    const run = args.command.name === 'doctor' ? doctorCommand : initCommand;
    process.exit(run(args.command.argv, args.config));
  }
  let config;
  try {
    config = loadConfig(args.config);
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message, 2);
    throw e;
  }
  const level = args.logLevel ?? config.log_level;
  if (!isLogLevel(level)) fail(`--log-level: must be one of debug, info, warn, error`, 2);
  const logger = createLogger(level);
  // Each flag overrides its config key; an empty key means unset.
  const certFile = args.tlsCert ?? (config.tls_cert_file || undefined);
  const keyFile = args.tlsKey ?? (config.tls_key_file || undefined);
  if (!certFile !== !keyFile) {
    fail('HTTPS needs a certificate and its key: set both tls_cert_file and tls_key_file (or --tls-cert-file and --tls-private-key-file)', 2);
  }
  // Signals are handled from the start, so one that arrives during startup still shuts down cleanly.
  let daemon: Daemon | undefined;
  let stopping = false;
  const shutdown = () => {
    if (!daemon) return; // startup finishes, sees `stopping`, and comes back here
    daemon.close().then(
      () => process.exit(0),
      (e: unknown) => {
        logger.error(`shutdown failed: ${String(e)}`);
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: string) => {
    if (stopping) {
      logger.warn(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    logger.info(`${signal}: shutting down`);
    shutdown();
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  try {
    daemon = await startDaemon(config, logger, version(), certFile && keyFile ? { certFile, keyFile } : undefined, {
      controllers: !args.apiOnly,
      configDir: args.config !== undefined ? dirname(resolve(args.config)) : undefined,
    });
  } catch (e) {
    if (e instanceof StartupError) fail(e.message, e.exitCode);
    throw e;
  }
  logger.info(`sandkasten ${version()} listening on ${daemon.url} (data_dir ${config.data_dir}${config.api_key ? '' : ', no api_key: open API'}${args.apiOnly ? ', API only: no controllers' : ''})`);
  if (stopping) shutdown();
}

main().catch((e: unknown) => fail(`fatal: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`, 1));
