/** A node's real log output, captured line by line (the logger a test hands to startTestApp). */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log/index.ts';

export interface CapturedLog {
  /** Every line written so far, in order. */
  lines: string[];
  log: Logger;
}

export function captureLog(format: 'json' | 'pretty' = 'json', level = 'info'): CapturedLog {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  return { lines, log: createLogger({ level, format, destination }) };
}
