import type { Logger } from './types.js';

const noop = (): void => {};

/** A Logger that discards everything: the default when the caller gives none. */
export const silentLogger: Logger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
};
