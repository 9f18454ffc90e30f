/**
 * A run session: the selected cells, run on a small pool ahead of the mocha tests that await them
 * (tests stay sequential and readable; labs of independent cells run side by side). Each result
 * is handed to `onResult` as soon as it exists (the results writer), so an interrupted run keeps
 * every finished cell. Without a configured session (plain `mocha`), cells run one at a time when
 * their test asks for them.
 */
import type { ProxyMode } from '../kube-proxy/config.js';
import { KubeEnvironment } from '../kube/environment.js';
import { cellKey, type CellSpec } from './cell.js';
import type { CellResult } from './result.js';
import { runCell, type RunCellOptions } from './run-cell.js';

/**
 * How a cell runs: as the session is configured (`default`), or, for the differential proof, on
 * real Kubernetes with the real kube-proxy in one of its modes (cells with Services only).
 */
export type CellVariant = 'default' | `real-${ProxyMode}`;

/** Cells prefetch() runs at once (and slots of the session's own Kubernetes environment). */
const PREFETCH = 2;

export function variantKey(cell: CellSpec, variant: CellVariant): string {
  return variant === 'default' ? cellKey(cell) : `${cellKey(cell)}#${variant}`;
}

export interface SessionOptions {
  /** The selected cells in run order; undefined: run whatever the tests ask for, on demand. */
  cells?: readonly CellSpec[];
  /** Cells in flight at once; default 1. */
  concurrency?: number;
  /** Runs one cell; default runCell. Certification swaps the topology through this. */
  run?: (cell: CellSpec, opts: RunCellOptions) => Promise<CellResult>;
  cellOptions?: (cell: CellSpec) => RunCellOptions;
  onStart?: (cell: CellSpec, index: number, total: number) => void;
  /**
   * The real Kubernetes the `real-*` variants run on; default: one started on first use (one slot
   * per cell in flight), stopped by close().
   */
  kube?: KubeEnvironment;
  onResult?: (result: CellResult, index: number, total: number) => Promise<void> | void;
}

export class SessionInterrupted extends Error {
  constructor(cell: string) {
    super(`run interrupted before ${cell} started`);
    this.name = 'SessionInterrupted';
  }
}

export class Session {
  private readonly results = new Map<string, Promise<CellResult>>();
  private readonly order: CellSpec[];
  private next = 0;
  private running = 0;
  private stopped = false;
  private readonly idle: (() => void)[] = [];
  /** Tests waiting for a selected cell the pool has not reached yet. */
  private readonly waiting = new Map<
    string,
    { resolve: (r: CellResult) => void; reject: (e: Error) => void }
  >();

  private ownKube: KubeEnvironment | undefined;

  constructor(private readonly opts: SessionOptions = {}) {
    this.order = [...(opts.cells ?? [])];
  }

  /** The Kubernetes environment of the `real-*` variants (a slot per cell prefetch() runs at once). */
  kube(): KubeEnvironment {
    if (this.opts.kube) return this.opts.kube;
    this.ownKube ??= new KubeEnvironment({ slots: Math.max(PREFETCH, this.opts.concurrency ?? 1) });
    return this.ownKube;
  }

  /**
   * Starts `cells` in `variant`, at most `limit` at a time, so that tests awaiting them one after
   * the other find them finished or running (the differential tests: real kube-proxy cells).
   */
  prefetch(cells: readonly CellSpec[], variant: CellVariant, limit = PREFETCH): void {
    const queue = cells.filter((c) => !this.results.has(variantKey(c, variant)));
    const next = (): void => {
      const cell = queue.shift();
      if (!cell || this.stopped) return;
      this.result(cell, variant).then(next, next);
    };
    for (let i = 0; i < limit; i++) next();
  }

  /** Stops what the session started on its own (its Kubernetes control plane). */
  async close(): Promise<void> {
    await this.ownKube?.close();
    this.ownKube = undefined;
  }

  get total(): number {
    return this.order.length;
  }

  /** Starts the pool (configured sessions); called by the first result() as well. */
  start(): void {
    const limit = Math.max(1, this.opts.concurrency ?? 1);
    while (!this.stopped && this.running < limit && this.next < this.order.length) {
      const cell = this.order[this.next++]!;
      if (!this.results.has(cellKey(cell))) this.launch(cell);
    }
  }

  /** The result of a cell: from the pool when selected, else run now. */
  result(cell: CellSpec, variant: CellVariant = 'default'): Promise<CellResult> {
    this.start();
    const key = variantKey(cell, variant);
    const known = this.results.get(key);
    if (known) return known;
    if (this.stopped) return Promise.reject(new SessionInterrupted(key));
    if (variant === 'default' && this.order.some((c) => cellKey(c) === key))
      return new Promise((resolve, reject) => this.waiting.set(key, { resolve, reject }));
    return this.launch(cell, variant);
  }

  /**
   * Every selected cell's result, once all have run. The run command awaits this after mocha: the
   * results are complete even when mocha registered no tests (ESM spec files load once per process).
   */
  drain(): Promise<CellResult[]> {
    return Promise.all(this.order.map((c) => this.result(c)));
  }

  /** Start no more cells; resolves when the running ones have finished (and been reported). */
  stop(): Promise<void> {
    this.stopped = true;
    for (const [key, w] of this.waiting) w.reject(new SessionInterrupted(key));
    this.waiting.clear();
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private launch(cell: CellSpec, variant: CellVariant = 'default'): Promise<CellResult> {
    const index = this.order.indexOf(cell);
    const total = this.order.length;
    this.running++;
    this.opts.onStart?.(cell, index, total);
    const run = this.opts.run ?? runCell;
    const options = this.opts.cellOptions?.(cell) ?? {};
    const variantOptions: RunCellOptions =
      variant === 'default'
        ? options
        : {
            ...options,
            kube: this.kube(),
            kubeProxyMode: variant === 'real-nftables' ? 'nftables' : 'iptables',
          };
    const p = run(cell, variantOptions).then(async (r) => {
      if (variant === 'default') await this.opts.onResult?.(r, index, total);
      return r;
    });
    this.results.set(variantKey(cell, variant), p);
    const w = this.waiting.get(cellKey(cell));
    if (w) {
      this.waiting.delete(cellKey(cell));
      p.then(w.resolve, w.reject);
    }
    const settle = (): void => {
      this.running--;
      if (this.running === 0 && this.stopped) this.idle.splice(0).forEach((f) => f());
      this.start();
    };
    p.then(settle, settle);
    return p;
  }
}

let current: Session | undefined;

/** The session tests take results from: the configured one, or an on-demand default. */
export function session(): Session {
  current ??= new Session();
  return current;
}

export function configureSession(s: Session | undefined): void {
  current = s;
  configured = s !== undefined;
}

let configured = false;

/** True while a run command drives the session (`returnpath run`), false under plain mocha. */
export function sessionConfigured(): boolean {
  return configured;
}
