import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * One logger for the repo. Credentials travel in these paths; pino censors them so that no log line
 * ever shows a secret even if a caller logs a whole request.
 */
export function createLogger(level: string, name = 'hub'): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: [
        'credentials',
        '*.credentials',
        'headers.authorization',
        '*.headers.authorization',
        'password',
        '*.password',
        'clientSecret',
        '*.clientSecret',
        'apiKey',
        '*.apiKey',
        'privateKeyPem',
        '*.privateKeyPem',
      ],
      censor: '[redacted]',
    },
  });
}
