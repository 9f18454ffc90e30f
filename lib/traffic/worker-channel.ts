/**
 * The controller's end of the JSON-lines protocol with one worker process: matches responses to
 * requests by id, fails every pending request when the worker dies, and stops it on close().
 */
import type { HostProcess } from '../exec/netns.js';
import { TrafficWorkerError } from './errors.js';
import type { Method, Methods, Response } from './protocol.js';

const STDERR_TAIL = 4096;

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

export class WorkerChannel {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private buffered = '';
  private stderrTail = '';
  private exitError: TrafficWorkerError | undefined;
  private readonly exited: Promise<void>;
  private closing: Promise<void> | undefined;

  constructor(
    readonly agent: string,
    private readonly child: HostProcess,
  ) {
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => this.onStdout(d));
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      this.stderrTail = (this.stderrTail + d).slice(-STDERR_TAIL);
    });
    child.stdin?.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      child.on('error', (e) => {
        this.fail(`could not start: ${e.message}`);
        resolve();
      });
      child.on('close', (code, signal) => {
        this.fail(`exited (${signal ?? `code ${code}`})`);
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get stderr(): string {
    return this.stderrTail;
  }

  call<M extends Method>(method: M, params: Methods[M][0]): Promise<Methods[M][1]> {
    if (this.exitError) return Promise.reject(this.exitError);
    const id = this.nextId++;
    return new Promise<Methods[M][1]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.stdin?.write(JSON.stringify({ id, method, params }) + '\n');
    });
  }

  /** Close stdin (the worker exits by itself), then SIGKILL after graceMs. Idempotent. */
  close(graceMs = 1000): Promise<void> {
    this.closing ??= (async () => {
      if (!this.exitError) {
        this.child.stdin?.end();
        const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
        await this.exited;
        clearTimeout(timer);
      }
      this.fail('closed');
    })();
    return this.closing;
  }

  private onStdout(data: string): void {
    this.buffered += data;
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      if (line.trim()) this.onLine(line);
    }
  }

  private onLine(line: string): void {
    let r: Response;
    try {
      r = JSON.parse(line) as Response;
    } catch {
      this.stderrTail = (this.stderrTail + `unparsable stdout: ${line.slice(0, 200)}\n`).slice(-STDERR_TAIL);
      return;
    }
    const p = this.pending.get(r.id);
    if (!p) return;
    this.pending.delete(r.id);
    if (r.ok) p.resolve(r.result);
    else p.reject(new TrafficWorkerError(this.agent, `${r.error.name}: ${r.error.message}`, r.error.code));
  }

  private fail(why: string): void {
    this.exitError ??= new TrafficWorkerError(this.agent, why, undefined, this.stderrTail);
    for (const p of this.pending.values()) p.reject(this.exitError);
    this.pending.clear();
  }
}
