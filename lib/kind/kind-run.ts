/**
 * `run --kind`: the selected cells on kind clusters returnpath makes, through the kubeconfig
 * backend. Cells that share their infrastructure (nodes with their CNI and sysctls, kube-proxy,
 * VPC, internet clients) share a test bed (lib/cluster/testbed-topology.ts); each test bed is a
 * kind cluster joined to a lab (testbed.ts), made when its first cell runs and removed when a cell
 * of another test bed comes, or at the end. The VPC CNI runs as the real plugin (kind's kubelet
 * runs it), so every VPC CNI cell runs with `implementation: real`. A test bed kind cannot make
 * skips its cells with the reason, and one that fails to come up ends its cells with the error (it
 * is not tried again); verdicts, skips and results are the kubeconfig backend's.
 */
import { defaultNamespace, openClusterBackend, type ClusterBackend } from '../cluster/backend.js';
import { testbedOfLab } from '../cluster/lab-testbed.js';
import { clusterCellNotRun } from '../cluster/run-cell.js';
import { testbeds, type Testbed } from '../cluster/testbed-topology.js';
import { newRunId } from '../lab/lab.js';
import { validateTopology } from '../model/topology.js';
import { cellKey, type CellSpec } from '../scenario/cell.js';
import { withCniImplementation, type CniChoice } from '../scenario/implementation.js';
import type { CellSource } from '../scenario/reproduce.js';
import type { CellResult } from '../scenario/result.js';
import type { KubeProxyMode } from './config.js';
import { AgentImageArchive } from './agent-image.js';
import { kindBedProblems, KindTestbed } from './testbed.js';

/** What every VPC CNI cell runs with on kind: the real plugin, run by kind's kubelet. */
export const KIND_CNI: CniChoice = { implementation: 'real' };
/** Reproduce lines of a kind run: the cluster is made again by the command. */
export const KIND_FLAGS = ['--kind'];

export interface KindRunOptions {
  /** The results' run id (the run's namespace, rp-RUN, and its labels). */
  run: string;
  /** The cells the run may be asked for (as selected, before the CNI choice). */
  cells: readonly CellSpec[];
  mode?: KubeProxyMode;
  log?: (line: string) => void;
}

interface Open {
  index: number;
  bed: KindTestbed;
  backend: ClusterBackend;
}

export class KindRun {
  private readonly beds: Testbed[];
  private readonly bedOf = new Map<string, number>();
  /**
   * Test beds that are not made, with why: skipped when kind cannot be what their cells need, an
   * error when making them failed (their other cells are not tried again).
   */
  private readonly failed = new Map<number, Pick<CellResult, 'status' | 'reason' | 'error'>>();
  private current: Open | undefined;
  private readonly log: (line: string) => void;
  /** Built once for the run, loaded into each test bed's cluster. */
  private readonly agentImage: AgentImageArchive;

  constructor(private readonly o: KindRunOptions) {
    this.log = o.log ?? (() => undefined);
    this.agentImage = new AgentImageArchive({ log: (l) => this.log(`  ${l}`) });
    this.beds = testbeds(o.cells.map((c) => withCniImplementation(c, KIND_CNI)));
    this.beds.forEach((b, i) => b.cells.forEach((c) => this.bedOf.set(cellKey(c), i)));
  }

  /** How many kind clusters the selected cells need. */
  get clusters(): number {
    return this.beds.length;
  }

  /** The cells grouped by test bed (in the order of each bed's first cell), each group in its own order. */
  order(cells: readonly CellSpec[]): CellSpec[] {
    const bed = (c: CellSpec): number => this.bedOf.get(cellKey(c)) ?? this.beds.length;
    return cells
      .map((c, i) => ({ c, i }))
      .sort((a, b) => bed(a.c) - bed(b.c) || a.i - b.i)
      .map((x) => x.c);
  }

  async run(cell: CellSpec, source: CellSource | undefined): Promise<CellResult> {
    const index = this.bedOf.get(cellKey(cell));
    if (index === undefined) throw new Error(`cell ${cellKey(cell)} was not among the run's cells`);
    const real = withCniImplementation(cell, KIND_CNI);
    if (this.current?.index !== index) {
      await this.closeCurrent();
      if (!this.failed.has(index)) await this.open(index);
    }
    const why = this.failed.get(index);
    if (why !== undefined) return clusterCellNotRun(real, source, KIND_FLAGS, why);
    return this.current!.backend.run(real, source);
  }

  async close(): Promise<void> {
    try {
      await this.closeCurrent();
    } finally {
      await this.agentImage.close();
    }
  }

  private async open(index: number): Promise<void> {
    const t = this.beds[index]!;
    const topology = validateTopology(t.doc, `test bed ${index + 1} topology`);
    const problems = kindBedProblems(topology);
    if (problems.length > 0) {
      this.failed.set(index, {
        status: 'skipped',
        reason: `kind cannot be this cell's cluster: ${problems.join('; ')}`,
      });
      return;
    }
    const runId = newRunId();
    this.log(
      `kind test bed ${index + 1} of ${this.beds.length}: ${topology.name} (${t.cells.length} cells), cluster rp-${runId}`,
    );
    let bed: KindTestbed | undefined;
    try {
      bed = await KindTestbed.up({
        topology,
        runId,
        podNamespace: defaultNamespace(this.o.run),
        agentImage: this.agentImage,
        ...(this.o.mode && { mode: this.o.mode }),
        log: (l) => this.log(`  ${l}`),
      });
      const backend = await openClusterBackend({
        kubeconfig: bed.kubeconfig,
        run: this.o.run,
        log: this.log,
        testbed: testbedOfLab(bed.lab, topology, `kind cluster ${bed.cluster.name} joined to lab ${runId}`),
        reproduceFlags: KIND_FLAGS,
      });
      const t = bed.timings;
      this.log(
        `kind test bed ${index + 1} ready in ${t.total} s (cluster ${t.cluster} s, joined to the VPC ${t.join} s, agent image ${t.agentImage} s)`,
      );
      this.log(backend.describe);
      this.current = { index, bed, backend };
    } catch (e) {
      // What was made is removed (KindTestbed.up removes its own on failure); the bed's cells end
      // with this error, and the bed is not made again for each of them.
      await bed?.close().catch(() => undefined);
      const message = (e as Error).message;
      this.log(`kind test bed ${index + 1} could not be made: ${message}`);
      this.failed.set(index, {
        status: 'error',
        reason: `kind test bed ${index + 1} could not be made: ${message.split('\n')[0]}`,
        error: message,
      });
    }
  }

  private async closeCurrent(): Promise<void> {
    const c = this.current;
    if (!c) return;
    this.current = undefined;
    try {
      await c.backend.close();
    } finally {
      await c.bed.close();
      this.log(
        `kind test bed ${c.index + 1}: cluster ${c.bed.cluster.name} and lab ${c.bed.lab.runId} removed`,
      );
    }
  }
}
