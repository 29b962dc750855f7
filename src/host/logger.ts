/** A pino-compatible logger: any object with these methods (pino, bunyan, console-like adapters). */
export interface Logger {
  /** Per-agent lifecycle steps (started, exited): noisy at hundreds of agents. */
  debug(obj: object, msg?: string): void;
  /** Host lifecycle (started, stopped). */
  info(obj: object, msg?: string): void;
  /** Something was wrong but the host carried on (a failing preflight check, a leftover it could not remove). */
  warn(obj: object, msg?: string): void;
  /** A failure the host could not recover from by itself (most failures reach the `error` event instead). */
  error(obj: object, msg?: string): void;
}

const noop = (): void => {};

/** The default: the library prints nothing on its own. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };
