// The Manager owns one shared informer per resource and the controllers reading them: it starts
// the informers, waits for their caches, starts the controllers, and on stop tears everything
// down so no watch, timer or socket is left behind.

import { Controller, type ControllerOptions, type StopOptions } from './controller.js';
import { errorMessage } from './errors.js';
import { Informer, type InformerOptions } from './informer.js';
import { silentLogger, type Logger } from './log.js';
import type { ListerWatcher, RuntimeObject } from './types.js';

export interface ManagerOptions {
  /** Makes the source of a resource (plural, e.g. "sessions"): HTTP or the in-process store. */
  listerWatcher(resource: string): ListerWatcher;
  logger?: Logger;
  /** How long start() waits for the caches (default: forever). */
  syncTimeoutMs?: number;
  /** Passed to every informer. */
  resyncPeriodMs?: number;
  informerBackoff?: InformerOptions['backoff'];
}

/** Controller options with resources named instead of informers; the manager shares informers. */
export interface ManagedControllerOptions extends Omit<ControllerOptions, 'for' | 'watches' | 'logger' | 'syncTimeoutMs'> {
  for: string;
  watches?: Array<{ resource: string; map(obj: RuntimeObject): string[] }>;
}

export class Manager {
  readonly #options: ManagerOptions;
  readonly #log: Logger;
  readonly #informers = new Map<string, Informer>();
  readonly #controllers: Controller[] = [];
  #state: 'new' | 'started' | 'stopped' = 'new';

  constructor(options: ManagerOptions) {
    this.#options = options;
    this.#log = options.logger ?? silentLogger;
  }

  /** The shared informer for `resource`, made on first use. */
  informer(resource: string): Informer {
    let informer = this.#informers.get(resource);
    if (informer === undefined) {
      this.#assertNew('add an informer');
      informer = new Informer({
        listerWatcher: this.#options.listerWatcher(resource),
        name: resource,
        logger: this.#log,
        ...(this.#options.resyncPeriodMs !== undefined && { resyncPeriodMs: this.#options.resyncPeriodMs }),
        ...(this.#options.informerBackoff !== undefined && { backoff: this.#options.informerBackoff }),
      });
      this.#informers.set(resource, informer);
    }
    return informer;
  }

  /** Builds a controller over the shared informers and registers it. */
  addController(options: ManagedControllerOptions): Controller {
    const { for: primary, watches, ...rest } = options;
    const controller = new Controller({
      ...rest,
      for: this.informer(primary),
      watches: (watches ?? []).map((w) => ({ informer: this.informer(w.resource), map: w.map })),
      logger: this.#log,
      ...(this.#options.syncTimeoutMs !== undefined && { syncTimeoutMs: this.#options.syncTimeoutMs }),
    });
    this.add(controller);
    return controller;
  }

  /** Registers a controller built elsewhere; its informers must come from `informer()`. */
  add(controller: Controller): void {
    this.#assertNew('add a controller');
    this.#controllers.push(controller);
  }

  get controllers(): readonly Controller[] {
    return this.#controllers;
  }

  /**
   * Starts every informer and controller; resolves once all caches have synced and every
   * controller's workers run. On failure (sync timeout) everything started is stopped again.
   */
  async start(): Promise<void> {
    this.#assertNew('start');
    this.#state = 'started';
    for (const informer of this.#informers.values()) informer.start();
    try {
      // Every cache first, so no controller acts on a partial view of another's resources.
      const wait = this.#options.syncTimeoutMs !== undefined ? { timeoutMs: this.#options.syncTimeoutMs } : {};
      await Promise.all([...this.#informers.values()].map((i) => i.waitForSync(wait)));
      await Promise.all(this.#controllers.map((c) => c.start()));
    } catch (err) {
      if (this.#stopping()) return; // stop() during start is not a failure
      this.#log.error(`manager: start failed: ${errorMessage(err)}`);
      await this.stop();
      throw err;
    }
    this.#log.info(`manager: started ${this.#controllers.length} controllers over ${this.#informers.size} informers`);
  }

  /** Stops controllers (waiting for in-flight reconciles), then the informers' watches. */
  async stop(options: StopOptions = {}): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    await Promise.all(this.#controllers.map((c) => c.stop(options)));
    await Promise.all([...this.#informers.values()].map((i) => i.stop()));
    this.#log.info('manager: stopped');
  }

  // A method, so TypeScript does not narrow #state across the awaits in start().
  #stopping(): boolean {
    return this.#state === 'stopped';
  }

  #assertNew(what: string): void {
    if (this.#state !== 'new') throw new Error(`manager: cannot ${what} after start`);
  }
}
