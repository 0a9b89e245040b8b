// The `doctor` and `init` subcommands of the sandkasten binary. Each returns its exit status:
// 0 fine, 1 a required check failed (or init could not finish), 2 a usage or config error.

import { ConfigError, loadConfig } from '../config/index.js';
import { runDoctor } from './checks.js';
import { formatInit, initHost, InitError } from './init.js';
import { formatReport } from './report.js';

export const doctorUsage = `Usage: sandkasten [--config FILE] doctor [--json]

Checks that this host can run sandboxes: kernel, cgroups, overlayfs, namespaces, seccomp, root,
the node-agent and runner binaries, and the data_dir filesystem. Prints a table (or JSON with
--json) and exits 1 when something required is missing.
`;

export const initUsage = `Usage: sandkasten init --config FILE [--data-dir DIR]

Writes FILE (unless it exists: an existing config is never overwritten) with a new random
api_key and every other key as a commented default, creates data_dir and its folders, and
prepares the built-in image "base". Safe to run again.

  --data-dir DIR   data_dir of a new config file (default /var/lib/sandkasten)
`;

interface Out {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

const defaultOut: Out = { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) };

/** Splits "--flag=value"; `takesValue` flags read the next argument otherwise. */
function parse(argv: string[], takesValue: Set<string>, flags: Set<string>): Map<string, string> | string {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const flag = eq > 0 ? a.slice(0, eq) : a;
    if (takesValue.has(flag)) {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) return `${flag} needs a value`;
      out.set(flag, v);
    } else if (flags.has(flag) && eq < 0) out.set(flag, '');
    else return `unknown argument ${JSON.stringify(a)}`;
  }
  return out;
}

export function doctorCommand(argv: string[], configFile: string | undefined, out: Out = defaultOut): number {
  const args = parse(argv, new Set(['--config', '-c']), new Set(['--json', '-h', '--help']));
  if (typeof args === 'string') {
    out.stderr(`sandkasten doctor: ${args}\n\n${doctorUsage}`);
    return 2;
  }
  if (args.has('-h') || args.has('--help')) {
    out.stdout(doctorUsage);
    return 0;
  }
  const file = args.get('--config') ?? args.get('-c') ?? configFile;
  let config;
  let configError: string | undefined;
  try {
    config = loadConfig(file);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    // Reported as a failed check; the rest still runs, with defaults.
    configError = e.message;
    config = loadConfig(undefined, {});
  }
  const report = runDoctor({ config, ...(configError ? { configError } : {}), ...(file ? { configFile: file } : {}) });
  if (args.has('--json')) out.stdout(`${JSON.stringify(report, null, 2)}\n`);
  else out.stdout(formatReport(report, { color: process.stdout.isTTY === true && !process.env.NO_COLOR }));
  return report.ok ? 0 : 1;
}

export function initCommand(argv: string[], configFile: string | undefined, out: Out = defaultOut): number {
  const args = parse(argv, new Set(['--config', '-c', '--data-dir']), new Set(['-h', '--help']));
  if (typeof args === 'string') {
    out.stderr(`sandkasten init: ${args}\n\n${initUsage}`);
    return 2;
  }
  if (args.has('-h') || args.has('--help')) {
    out.stdout(initUsage);
    return 0;
  }
  const file = args.get('--config') ?? args.get('-c') ?? configFile;
  if (!file) {
    out.stderr(`sandkasten init: --config FILE is required (where to write the config)\n\n${initUsage}`);
    return 2;
  }
  try {
    const dataDir = args.get('--data-dir');
    out.stdout(formatInit(initHost({ configFile: file, ...(dataDir !== undefined ? { dataDir } : {}) })));
    return 0;
  } catch (e) {
    if (!(e instanceof InitError)) throw e;
    out.stderr(`sandkasten init: ${e.message}\n`);
    return e.exitCode;
  }
}
