/**
 * The `parti-ts` command: dispatches to `worker`, `demo` or `help`. An unknown command prints the
 * usage on stderr and exits 2.
 */
import { runDemo } from './demo.js';
import { runWorker } from './worker-command.js';

export const USAGE = `Usage: parti-ts <command> [options]

Commands:
  worker    run one worker of a group and report its state and assignment (--json for JSON lines)
  demo      start a local nats-server and a group of workers, kill one, add one, watch it live
  help      show this help (parti-ts <command> --help for a command's options)`;

/** Runs the CLI with `argv` (without node and the script); resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'worker':
      return runWorker(rest);
    case 'demo':
      return runDemo(rest);
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    default:
      process.stderr.write(`${command === undefined ? 'parti-ts: missing command' : `parti-ts: unknown command ${JSON.stringify(command)}`}\n\n${USAGE}\n`);
      return 2;
  }
}

/**
 * Sets the exit code and lets the event loop drain (so stdout is flushed); a handle that would
 * keep the process alive anyway is cut off after a short grace.
 */
function exitWith(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 2_000).unref();
}

main(process.argv.slice(2)).then(exitWith, (err: unknown) => {
  process.stderr.write(`parti-ts: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  exitWith(1);
});
