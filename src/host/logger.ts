/** A pino-compatible logger: any object with these methods (pino, bunyan, console-like adapters). */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => {};

/** The default: the library prints nothing on its own. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };
