// Errors the runtime distinguishes. Recognised by a brand as well as by class, so a copy of
// this module loaded twice (or an error crossing a realm) is still understood.

const terminalBrand = Symbol.for('sandkasten.dev/TerminalError');
const goneBrand = Symbol.for('sandkasten.dev/GoneError');

/**
 * Thrown by a reconciler when retrying cannot help (invalid spec, missing immutable input):
 * the failure is logged and the key is not retried until its object changes again.
 */
export class TerminalError extends Error {
  readonly [terminalBrand] = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

export function isTerminalError(err: unknown): err is TerminalError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[terminalBrand] === true;
}

/**
 * The watch's resourceVersion was compacted away (HTTP 410 Gone / reason Expired): the only way
 * forward is a fresh list.
 */
export class GoneError extends Error {
  readonly [goneBrand] = true;
  constructor(message: string) {
    super(message);
    this.name = 'GoneError';
  }
}

export function isGoneError(err: unknown): err is GoneError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[goneBrand] === true;
}

/** A non-2xx answer from the API server, carrying the Status it returned when there was one. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** A watch stream that broke its protocol (bad JSON, unknown event type, ERROR other than 410). */
export class WatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WatchError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
