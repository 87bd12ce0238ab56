/**
 * Runs user hooks one at a time, in the order their events happened (a promise chain).
 * A hook that throws or rejects is wrapped in HookError and handed to onError and the log;
 * it never breaks the worker. A throwing onError is only logged.
 */
import { HookError } from './errors.js';
import type { AssignmentChange, Hooks, Logger, StateChange } from './types.js';

export class HookRunner {
  #tail: Promise<void> = Promise.resolve();
  readonly #hooks: Hooks;
  readonly #logger: Logger;

  constructor(hooks: Hooks, logger: Logger) {
    this.#hooks = hooks;
    this.#logger = logger;
  }

  assignmentChanged(change: AssignmentChange): void {
    const hook = this.#hooks.onAssignmentChanged;
    if (hook) this.#enqueue('onAssignmentChanged', () => hook.call(this.#hooks, change));
  }

  stateChanged(change: StateChange): void {
    const hook = this.#hooks.onStateChanged;
    if (hook) this.#enqueue('onStateChanged', () => hook.call(this.#hooks, change));
  }

  error(error: Error): void {
    const hook = this.#hooks.onError;
    if (!hook) return;
    this.#tail = this.#tail.then(async () => {
      try {
        await hook.call(this.#hooks, error);
      } catch (err) {
        this.#logger.error({ err, hook: 'onError' }, 'onError hook threw');
      }
    });
  }

  /** Resolves when every hook queued so far has settled. */
  idle(): Promise<void> {
    return this.#tail;
  }

  #enqueue(name: string, call: () => void | Promise<void>): void {
    this.#tail = this.#tail.then(async () => {
      try {
        await call();
      } catch (cause) {
        const err = new HookError(name, { cause });
        this.#logger.error({ err, hook: name }, 'hook threw');
        // Run onError right here, so it stays in order with the hook that failed.
        const onError = this.#hooks.onError;
        if (onError) {
          try {
            await onError.call(this.#hooks, err);
          } catch (e) {
            this.#logger.error({ err: e, hook: 'onError' }, 'onError hook threw');
          }
        }
      }
    });
  }
}
