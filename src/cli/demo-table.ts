/**
 * Rendering for `parti-ts demo`: the worker table (a pure function of the rows) and a Screen that
 * shows it: redrawn in place with ANSI escapes on a terminal, printed on each change (throttled)
 * otherwise. Narration lines go above the table and stay.
 */
import { formatDuration } from './args.js';

export type RowStatus = 'starting' | 'running' | 'killed' | 'exited' | 'stopping' | 'stopped';

export interface WorkerRow {
  /** 1-based order of start. */
  readonly slot: number;
  readonly pid: number | undefined;
  readonly workerId: string | null;
  /** Last reported worker state ('-' before the first report). */
  readonly state: string;
  readonly leader: boolean;
  readonly partitions: number;
  readonly version: number | null;
  readonly status: RowStatus;
}

export interface TableSummary {
  /** Partitions owned exactly once by live workers. */
  readonly owned: number;
  readonly total: number;
  readonly elapsedMs: number;
}

const ESC = '\x1b[';
const style = {
  bold: (s: string) => `${ESC}1m${s}${ESC}0m`,
  dim: (s: string) => `${ESC}2m${s}${ESC}0m`,
  green: (s: string) => `${ESC}32m${s}${ESC}0m`,
  yellow: (s: string) => `${ESC}33m${s}${ESC}0m`,
  red: (s: string) => `${ESC}31m${s}${ESC}0m`,
};
const plain = { bold: id, dim: id, green: id, yellow: id, red: id };
function id(s: string): string {
  return s;
}

const HEADERS = ['WORKER', 'PID', 'STATE', 'LEADER', 'PARTITIONS', 'VERSION', 'PROCESS'] as const;

/** Lines of the table (no trailing newline), coloured when `color`. */
export function renderTable(rows: readonly WorkerRow[], summary: TableSummary, color: boolean): string[] {
  const c = color ? style : plain;
  const cells = rows.map((r) => [
    r.workerId ?? `#${r.slot}`,
    r.pid === undefined ? '-' : String(r.pid),
    r.state,
    r.leader ? '★ yes' : '',
    String(r.partitions),
    r.version === null ? '-' : `v${r.version}`,
    r.status,
  ]);
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i]?.length ?? 0)));
  const pad = (row: readonly string[]) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  const lines = [c.bold(pad(HEADERS))];
  rows.forEach((r, i) => {
    const text = pad(cells[i] ?? []);
    const gone = r.status === 'killed' || r.status === 'exited' || r.status === 'stopped';
    if (gone) lines.push(c.dim(text));
    else if (r.state === 'Stable') lines.push(c.green(text));
    else if (r.state === 'Emergency' || r.state === 'Degraded') lines.push(c.red(text));
    else lines.push(c.yellow(text));
  });
  const coverage = `${summary.owned}/${summary.total} partitions owned`;
  const elapsed = ` · ${formatDuration(summary.elapsedMs)} elapsed`;
  lines.push(summary.owned === summary.total ? c.dim(coverage + elapsed) : c.yellow(coverage) + c.dim(elapsed));
  return lines;
}

export interface ScreenOptions {
  readonly out: NodeJS.WriteStream;
  /** Redraw in place (a terminal). Default: out.isTTY. */
  readonly tty?: boolean;
  /** Minimum time between two prints of the table when not a TTY. Default 1 s. */
  readonly throttleMs?: number;
  /** Produces the current table lines. */
  readonly table: (color: boolean) => string[];
}

/** Shows narration and the live table. */
export class Screen {
  readonly #out: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #throttleMs: number;
  readonly #table: (color: boolean) => string[];
  #drawn = 0;
  #lastPrint = 0;
  #timer: NodeJS.Timeout | undefined;
  #lastText = '';
  #closed = false;

  constructor(options: ScreenOptions) {
    this.#out = options.out;
    this.#tty = options.tty ?? options.out.isTTY === true;
    this.#throttleMs = options.throttleMs ?? (this.#tty ? 100 : 1_000);
    this.#table = options.table;
  }

  /** A narration line, kept above the table. */
  narrate(message: string): void {
    const stamp = new Date().toISOString().slice(11, 23);
    if (this.#tty) {
      this.#erase();
      this.#out.write(`${style.dim(stamp)} ${style.bold(message)}\n`);
      this.#draw();
    } else {
      this.#out.write(`${stamp} ${message}\n`);
    }
  }

  /** The rows changed: redraw (throttled). */
  update(): void {
    if (this.#closed || this.#timer) return;
    const wait = Math.max(0, this.#lastPrint + this.#throttleMs - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#flush();
    }, wait);
  }

  /** Prints the final table (once more if it changed, unless `flush` is false) and stops redrawing. */
  close(flush = true): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (flush) this.#flush();
    this.#closed = true;
    this.#drawn = 0;
  }

  #flush(): void {
    if (this.#closed) return;
    this.#lastPrint = Date.now();
    if (this.#tty) {
      this.#erase();
      this.#draw();
      return;
    }
    const text = this.#table(false).join('\n');
    if (text === this.#lastText) return;
    this.#lastText = text;
    this.#out.write(`${text}\n\n`);
  }

  #erase(): void {
    if (this.#drawn > 0) this.#out.write(`${ESC}${this.#drawn}A${ESC}0J`);
    this.#drawn = 0;
  }

  #draw(): void {
    if (this.#closed) return;
    const lines = this.#table(true);
    this.#out.write(`${lines.join('\n')}\n`);
    this.#drawn = lines.length;
  }
}
