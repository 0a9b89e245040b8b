// The minimal logger the API server writes to; the daemon passes one that prints lines to stderr.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** Would a line at this level be written? Lets hot paths skip building it. Absent: yes. */
  enabled?(level: LogLevel): boolean;
}

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Plain `time level message` lines on a stream; messages below `level` are dropped. */
export function createLogger(level: LogLevel = 'info', out: NodeJS.WritableStream = process.stderr): Logger {
  const enabled = (l: LogLevel) => order[l] >= order[level];
  const emit = (l: LogLevel) => (message: string) => {
    if (enabled(l)) out.write(`${new Date().toISOString()} ${l.toUpperCase()} ${message}\n`);
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error'), enabled };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {}, enabled: () => false };

export function isLogLevel(s: string): s is LogLevel {
  return s in order;
}

export function logEnabled(logger: Logger, level: LogLevel): boolean {
  return logger.enabled?.(level) ?? true;
}

/**
 * The trace line of one request, `VERB url => code (ms)`: server errors at error, client errors
 * at warn (except the expected 404, 409 and 410), the rest at debug. Built only when written.
 */
export function traceRequest(logger: Logger, method: string, url: string, status: number, startNs: bigint): void {
  const level: LogLevel =
    status >= 500 ? 'error' : status >= 400 && status !== 404 && status !== 409 && status !== 410 ? 'warn' : 'debug';
  if (!logEnabled(logger, level)) return;
  const ms = Number(process.hrtime.bigint() - startNs) / 1e6;
  logger[level](`${method} ${url} => ${status} (${ms.toFixed(1)} ms)`);
}
