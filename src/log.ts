/** The process logger: JSON lines on stdout (pino). Tests pass level 'silent'. */
import { pino, type Logger } from 'pino';

export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'pixel-canvas' } });
}
export type { Logger };
