import type { InboundMessage } from '../events.js';
import type { CommandHost } from './host.js';

/** `/word rest` split into name and arguments; null when the text is not a command. */
export function parseSlashCommand(text: string): { name: string; args: string } | null {
  const match = /^\/([A-Za-z][\w-]*)(?:\s+([\s\S]*))?$/.exec(text.trim());
  if (!match) return null;
  return { name: match[1]!.toLowerCase(), args: (match[2] ?? '').trim() };
}

/** What a command handler gets. */
export interface CommandCall {
  event: InboundMessage;
  host: CommandHost;
}

/** One slash command. */
export interface SlashCommand {
  name: string;
  /** Usage line for /help, e.g. `/agent [id]`. */
  usage: string;
  summary: string;
  /**
   * Commands that replace the conversation's session (/clear, /compact,
   * /agent <id>) wait for the source's running turn, so that turn's reply
   * lands in the session it belongs to. All others answer at once.
   */
  changesSession?: (args: string) => boolean;
  run(args: string, call: CommandCall): Promise<string>;
}

/**
 * Holds the registered commands. An unknown `/word` is not a command: it is
 * sent to the agent as ordinary chat (see {@link has}).
 */
export class SlashCommandRunner {
  readonly #commands = new Map<string, SlashCommand>();

  constructor(commands: readonly SlashCommand[]) {
    for (const command of commands) this.#commands.set(command.name, command);
  }

  has(name: string): boolean {
    return this.#commands.has(name);
  }

  /** True when `/name args` must wait for the source's running turn. */
  changesSession(name: string, args: string): boolean {
    return this.#commands.get(name)?.changesSession?.(args) ?? false;
  }

  list(): SlashCommand[] {
    return [...this.#commands.values()];
  }

  run(name: string, args: string, call: CommandCall): Promise<string> {
    const command = this.#commands.get(name);
    if (!command) throw new Error(`unknown command /${name}`);
    return command.run(args, call);
  }
}
