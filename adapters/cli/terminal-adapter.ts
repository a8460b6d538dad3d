import type { EventBus } from '../../src/bus.js';
import { inboundMessage, type OutboundEvent } from '../../src/events.js';

/** How the terminal prints what comes back. */
export interface TerminalOutput {
  reply(agentName: string, text: string): void;
  notice(text: string): void;
  error(text: string): void;
}

/**
 * The terminal as a channel adapter: sends each line as an inbound event on
 * the bus (the same path every platform uses) and resolves when the answer
 * for that event comes back. Queue notices are printed as they arrive.
 */
export class TerminalAdapter {
  readonly #bus: EventBus;
  readonly #source: string;
  readonly #output: TerminalOutput;
  readonly #agentName: (agentId: string | undefined) => string;
  readonly #waiting = new Map<string, () => void>();
  readonly #unsubscribe: () => void;

  constructor(options: { bus: EventBus; source: string; output: TerminalOutput; agentName: (agentId: string | undefined) => string }) {
    this.#bus = options.bus;
    this.#source = options.source;
    this.#output = options.output;
    this.#agentName = options.agentName;
    this.#unsubscribe = this.#bus.on('outbound', (event) => this.#onOutbound(event));
  }

  /** Sends one message and waits for its reply or error. */
  send(content: string): Promise<void> {
    const event = inboundMessage({ source: this.#source, content });
    const answered = new Promise<void>((resolve) => this.#waiting.set(event.id, resolve));
    this.#bus.publish('inbound', event);
    return answered;
  }

  close(): void {
    this.#unsubscribe();
  }

  #onOutbound(event: OutboundEvent): void {
    if (event.source !== this.#source) return;
    switch (event.type) {
      case 'queued':
        this.#output.notice(`${this.#agentName(event.agentId)} is busy: queued (position ${event.position ?? '?'})`);
        return;
      case 'started':
        return;
      case 'reply':
        if (event.command) this.#output.notice(event.content);
        else this.#output.reply(this.#agentName(event.agentId), event.content);
        break;
      case 'error':
        this.#output.error(event.content);
        break;
    }
    this.#waiting.get(event.replyTo)?.();
    this.#waiting.delete(event.replyTo);
  }
}
