// A deliberately small logger interface: the runtime only needs leveled lines. Reconcile-scoped
// loggers are made with `prefixed`, so every line of one reconcile carries its id.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Writes `LEVEL msg` lines to stderr, dropping lines below `level` (default info). */
export function consoleLogger(level: LogLevel = 'info'): Logger {
  const min = rank[level];
  const at = (l: LogLevel) => (msg: string) => {
    if (rank[l] >= min) process.stderr.write(`${new Date().toISOString()} ${l.toUpperCase()} ${msg}\n`);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** A logger that puts `prefix ` in front of every line. */
export function prefixed(logger: Logger, prefix: string): Logger {
  return {
    debug: (m) => logger.debug(`${prefix} ${m}`),
    info: (m) => logger.info(`${prefix} ${m}`),
    warn: (m) => logger.warn(`${prefix} ${m}`),
    error: (m) => logger.error(`${prefix} ${m}`),
  };
}

/** Keeps `LEVEL msg` lines in memory; for tests that assert on what was logged. */
export interface MemoryLogger extends Logger {
  readonly lines: string[];
}

export function memoryLogger(): MemoryLogger {
  const lines: string[] = [];
  const at = (l: LogLevel) => (msg: string) => void lines.push(`${l.toUpperCase()} ${msg}`);
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
