/**
 * Writes a run's reports as cells complete: results.json, junit.xml and report.html, each replaced
 * atomically (temp file in the same directory, then rename) so a reader or a crash never sees half
 * a file. Writes are serialised; finishSync() is for signal handlers and wins over pending writes.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ValidationError } from '../errors.js';
import type { CellResult, RunResults } from '../scenario/result.js';
import { cellKey, countStatuses } from './cell-text.js';
import { renderHtml } from './html.js';
import { renderJunit } from './junit.js';
import { validateCell, validateRunHeader, type RunHeader } from './schema.js';

export type { RunHeader };

export const RESULTS_FILE = 'results.json';
export const JUNIT_FILE = 'junit.xml';
export const HTML_FILE = 'report.html';

type Rendered = [name: string, text: string][];

export class ResultsWriter {
  private readonly cells: CellResult[] = [];
  private readonly keys = new Set<string>();
  private state: RunResults['state'] = 'running';
  private finishedAt: string | undefined;
  /** The tail of the write queue; never rejects. */
  private queue: Promise<void> = Promise.resolve();
  private tempCount = 0;
  /** Set by finishSync: pending asynchronous writes are dropped, the files are final. */
  private final = false;

  private constructor(
    readonly dir: string,
    private readonly header: RunHeader,
  ) {}

  /** Create the directory (recursively) and write the empty run. */
  static async open(dir: string, header: RunHeader): Promise<ResultsWriter> {
    const checked = validateRunHeader(header, `run header for ${dir}`);
    await mkdir(dir, { recursive: true });
    const writer = new ResultsWriter(dir, checked);
    await writer.enqueue();
    return writer;
  }

  /** The run as it stands. */
  snapshot(): RunResults {
    return {
      ...this.header,
      ...(this.finishedAt ? { finishedAt: this.finishedAt } : {}),
      state: this.state,
      cells: [...this.cells],
      totals: countStatuses(this.cells),
    };
  }

  /**
   * Record a cell and rewrite the reports. The cell is kept at once (a later finishSync writes it
   * even if this write has not happened yet). Throws ValidationError for a malformed cell or a
   * `suite/id` already added.
   */
  async add(cell: CellResult): Promise<void> {
    this.assertOpen('add');
    const source = `cell ${cellKey(cell)}`;
    const checked = validateCell(cell, source);
    if (this.keys.has(cellKey(checked))) {
      throw new ValidationError(source, [
        {
          path: 'id',
          value: JSON.stringify(checked.id),
          message: 'a cell with this suite/id was already added',
        },
      ]);
    }
    this.keys.add(cellKey(checked));
    this.cells.push(checked);
    await this.enqueue();
  }

  /**
   * Mark the run complete or interrupted and write the final reports. Once finished, the first
   * state stays: a later finish() only waits for the writes (an interrupt racing the normal end).
   */
  async finish(state: 'complete' | 'interrupted'): Promise<void> {
    if (this.final) return;
    if (this.state === 'running') {
      this.state = state;
      this.finishedAt = new Date().toISOString();
    }
    await this.enqueue();
  }

  /**
   * finish() for a signal or exit handler: writes synchronously, now, every cell added so far.
   * Asynchronous writes still pending are dropped. Idempotent.
   */
  finishSync(state: 'complete' | 'interrupted'): void {
    if (this.final) return;
    if (this.state === 'running') {
      this.state = state;
      this.finishedAt = new Date().toISOString();
    }
    this.final = true;
    mkdirSync(this.dir, { recursive: true });
    for (const [name, text] of this.render()) {
      const temp = this.tempPath(name);
      writeFileSync(temp, text);
      renameSync(temp, join(this.dir, name));
    }
  }

  private assertOpen(what: string): void {
    if (this.state !== 'running' || this.final)
      throw new Error(`ResultsWriter(${this.dir}): ${what} after the run was finished (${this.state})`);
  }

  /** Queue a rewrite of every file; resolves when written, rejects with this write's error only. */
  private enqueue(): Promise<void> {
    const write = this.queue.then(() => this.writeAll());
    this.queue = write.catch(() => undefined);
    return write;
  }

  private async writeAll(): Promise<void> {
    if (this.final) return;
    const files = this.render();
    const temps = files.map(([name]) => this.tempPath(name));
    try {
      await Promise.all(files.map(([, text], i) => writeFile(temps[i]!, text)));
      // Renamed synchronously: finishSync cannot run between the check and the renames.
      if (this.final) return;
      files.forEach(([name], i) => renameSync(temps[i]!, join(this.dir, name)));
    } finally {
      await Promise.all(temps.map((t) => rm(t, { force: true })));
    }
  }

  /** results.json last: its presence means the other two are as new. */
  private render(): Rendered {
    const run = this.snapshot();
    return [
      [JUNIT_FILE, renderJunit(run)],
      [HTML_FILE, renderHtml(run)],
      [RESULTS_FILE, JSON.stringify(run, null, 2) + '\n'],
    ];
  }

  private tempPath(name: string): string {
    return join(this.dir, `.${name}.${process.pid}.${++this.tempCount}.tmp`);
  }
}
