// The minimal logger the API server writes to; the daemon passes one that prints lines to stderr.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Plain `time level message` lines on a stream; messages below `level` are dropped. */
export function createLogger(level: LogLevel = 'info', out: NodeJS.WritableStream = process.stderr): Logger {
  const emit = (l: LogLevel) => (message: string) => {
    if (order[l] >= order[level]) out.write(`${new Date().toISOString()} ${l.toUpperCase()} ${message}\n`);
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export function isLogLevel(s: string): s is LogLevel {
  return s in order;
}
