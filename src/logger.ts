import { pino, type Logger as PinoLogger } from 'pino';

/** Brine's logger (pino). Structured, one JSON line per entry. */
export type Logger = PinoLogger;

/**
 * Creates the process logger. Secrets never reach it: config holds none, and
 * the redact list below catches the env-var names should anything pass them.
 * Level: `$BRINE_LOG_LEVEL`, else the given default. Output: `file` if given
 * (folders created), else `destination` (default stderr).
 */
export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream | number; file?: string } = {}): Logger {
  const level = process.env.BRINE_LOG_LEVEL?.trim() || options.level || 'info';
  const redact = ['apiKey', 'api_key', 'token', '*.apiKey', '*.token', 'OPENAI_API_KEY', 'DISCORD_BOT_TOKEN', 'SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'SLACK_APP_TOKEN', 'BRAVE_API_KEY'];
  const dest = options.destination ?? 2;
  const stream = options.file
    ? pino.destination({ dest: options.file, sync: true, mkdir: true })
    : typeof dest === 'number'
      ? pino.destination({ fd: dest, sync: true })
      : dest;
  return pino({ level, redact, base: undefined }, stream as pino.DestinationStream);
}

/** A logger that drops everything (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
