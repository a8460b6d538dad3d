import { watch, type FSWatcher } from 'node:fs';
import type { Logger } from '../logger.js';

/** Workspace paths whose edits change behaviour (relative, forward slashes). */
const WATCHED = /^(config\.user\.yaml|config\.runtime\.yaml|AGENTS\.md|BOOTSTRAP\.md|(agents|skills|crons)(\/.*)?)$/;

/**
 * Watches a workspace for edits to the config, prompt layers, agents, skills
 * and crons, and calls `onChange` once per burst of edits (debounced: editors
 * write a file in several steps). History, events, logs and memories are
 * ignored, so the bot's own writes never trigger a reload.
 */
export class WorkspaceWatcher {
  readonly #root: string;
  readonly #onChange: () => Promise<void>;
  readonly #logger: Logger;
  readonly #debounceMs: number;
  #watcher: FSWatcher | null = null;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> = Promise.resolve();

  constructor(options: { root: string; onChange: () => Promise<void>; logger: Logger; debounceMs?: number }) {
    this.#root = options.root;
    this.#onChange = options.onChange;
    this.#logger = options.logger;
    this.#debounceMs = options.debounceMs ?? 250;
  }

  start(): void {
    // Recursive watching works on Linux from Node 20, on macOS and Windows natively.
    this.#watcher = watch(this.#root, { recursive: true }, (_event, file) => {
      const path = file?.toString().replaceAll('\\', '/');
      if (path && WATCHED.test(path)) this.trigger();
    });
    this.#watcher.on('error', (err) => this.#logger.error({ err }, 'workspace watcher failed; edits need a restart now'));
  }

  /** Schedules a reload (also used by tests and by `/route`-style writes). */
  trigger(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      // One reload at a time; a burst during a reload queues one more.
      this.#running = this.#running.then(() => this.#onChange()).catch((err: unknown) => this.#logger.error({ err }, 'reload failed'));
    }, this.#debounceMs);
  }

  /** Resolves when the reload in progress (if any) is done. */
  settled(): Promise<void> {
    return this.#running;
  }

  stop(): void {
    this.#watcher?.close();
    this.#watcher = null;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
