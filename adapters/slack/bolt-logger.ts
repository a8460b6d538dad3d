import { format } from 'node:util';
import { LogLevel, type Logger as BoltLogger } from '@slack/bolt';
import type { Logger } from '../../src/logger.js';

/**
 * Bolt's (and its Web API and Socket Mode clients') logger interface on top
 * of Brine's pino logger, so their lines land in Brine's log as JSON with
 * `lib: "bolt"`, at Brine's level. Bolt asks to change the level when it is
 * constructed; that is ignored: `BRINE_LOG_LEVEL` decides.
 */
export function boltLogger(logger: Logger): BoltLogger {
  const child = logger.child({ lib: 'bolt' });
  const write = (level: 'debug' | 'info' | 'warn' | 'error') => (...msg: unknown[]) => {
    if (child.isLevelEnabled(level)) child[level](format(...msg));
  };
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    setLevel: () => {},
    // Bolt checks this before building costly debug output.
    getLevel: () => boltLevel(child.level),
    setName: () => {},
  };
}

function boltLevel(level: string): LogLevel {
  if (level === 'trace' || level === 'debug') return LogLevel.DEBUG;
  if (level === 'info') return LogLevel.INFO;
  if (level === 'warn') return LogLevel.WARN;
  return LogLevel.ERROR;
}
