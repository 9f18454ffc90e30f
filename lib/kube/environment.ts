/**
 * Real Kubernetes for a run: the control plane, started on first use (once per run, not per cell)
 * with one slot per cell that can run at once, and handed to cells one slot at a time. Before a
 * slot is handed out, whatever a previous cell left in its apiserver is removed (and the removal
 * observed). A control plane with a dead component is replaced once no cell uses it: the cell that
 * saw the death reports it (status error, with the component's last log lines), the run goes on.
 */
import { join } from 'node:path';
import { etcd, kubernetes, requireBuilt } from '../components/index.js';
import type { ProxyMode } from '../kube-proxy/config.js';
import type { KubeProxyRun } from '../kube-proxy/implementation.js';
import { ClusterApi } from './cluster-api.js';
import { ControlPlane, type ControlPlaneSlot } from './control-plane.js';
import { OWNER_LABEL } from './objects.js';
import { KubernetesStage } from './stage.js';

export interface KubeEnvironmentOptions {
  /** Slots: cells on real Kubernetes at once. */
  slots: number;
  /** The real kube-proxy's mode unless a cell asks for another; default iptables (as EKS). */
  mode?: ProxyMode;
  log?: (line: string) => void;
}

export interface SlotLease {
  slot: ControlPlaneSlot;
  /** A lab stage for a cell on this slot (kube-proxy in `mode`, default the environment's). */
  stage(mode?: ProxyMode): KubernetesStage;
  release(): void;
}

export class KubeEnvironment {
  private plane: Promise<ControlPlane> | undefined;
  private readonly free: number[] = [];
  private readonly waiting: (() => void)[] = [];
  private leased = 0;
  private kubeProxyBinary = '';
  private version = '';
  private closed = false;

  constructor(readonly opts: KubeEnvironmentOptions) {}

  get mode(): ProxyMode {
    return this.opts.mode ?? 'iptables';
  }

  /** Builds nothing: throws EnvironmentError (exit 3) naming `returnpath components build ...` when missing. */
  async binaries(): Promise<{
    etcd: string;
    kubeApiserver: string;
    kubeControllerManager: string;
    kubeProxy: string;
    version: string;
  }> {
    const [k, e] = await Promise.all([requireBuilt(kubernetes), requireBuilt(etcd)]);
    return {
      etcd: e.path('bin/etcd'),
      kubeApiserver: k.path('bin/kube-apiserver'),
      kubeControllerManager: k.path('bin/kube-controller-manager'),
      kubeProxy: k.path('bin/kube-proxy'),
      version: k.version,
    };
  }

  private start(): Promise<ControlPlane> {
    this.plane ??= (async () => {
      const b = await this.binaries();
      this.kubeProxyBinary = b.kubeProxy;
      this.version = b.version;
      const t0 = performance.now();
      const cp = await ControlPlane.start({
        slots: this.opts.slots,
        binaries: b,
        version: b.version,
        ...(this.opts.log && { log: this.opts.log }),
      });
      this.opts.log?.(
        `Kubernetes ${b.version} control plane up in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${cp.slots.length} apiserver slot(s), loopback ${cp.loopbackBase}.0/24`,
      );
      this.free.push(...cp.slots.map((s) => s.index));
      return cp;
    })();
    this.plane.catch(() => {
      this.plane = undefined;
    });
    return this.plane;
  }

  /** The control plane, started if needed (for `lab up --kubernetes` and benchmarks). */
  controlPlane(): Promise<ControlPlane> {
    return this.start();
  }

  /** Waits for a free slot, replacing a control plane with a dead component once nobody uses it. */
  async lease(): Promise<SlotLease> {
    if (this.closed) throw new Error('the Kubernetes environment is closed');
    for (;;) {
      let cp = await this.start();
      const dead = cp.dead();
      if (dead) {
        if (this.leased > 0) {
          await new Promise<void>((r) => this.waiting.push(r));
          continue;
        }
        this.opts.log?.(`control plane: ${dead.name} is not running; starting a new control plane`);
        this.plane = undefined;
        this.free.length = 0;
        await cp.stop().catch(() => undefined);
        cp = await this.start();
      }
      const index = this.free.shift();
      if (index === undefined) {
        await new Promise<void>((r) => this.waiting.push(r));
        continue;
      }
      this.leased++;
      const slot = cp.slots[index]!;
      try {
        // Whatever an earlier cell on this slot left (its teardown failed or was interrupted).
        await new ClusterApi(await slot.adminConfig(), {
          components: () => slot.components(),
        }).cleanupSelector(OWNER_LABEL);
      } catch (e) {
        this.release(index);
        throw e;
      }
      let released = false;
      return {
        slot,
        stage: (mode) =>
          new KubernetesStage({
            slot,
            kubeProxyBinary: this.kubeProxyBinary,
            version: this.version,
            mode: mode ?? this.mode,
            baseDir: join(cp.dir, 'cells'),
            ...(this.opts.log && { log: this.opts.log }),
          }),
        release: () => {
          if (released) return;
          released = true;
          this.release(index);
        },
      };
    }
  }

  private release(index: number): void {
    this.leased--;
    this.free.push(index);
    this.waiting.splice(0).forEach((w) => w());
  }

  /** What a cell on this environment records. */
  run(detectLocal: KubeProxyRun['detectLocal'], mode?: ProxyMode): KubeProxyRun {
    return { implementation: 'real', mode: mode ?? this.mode, version: this.version, detectLocal };
  }

  /** Stops the control plane (after the cells: kube-proxies stop with their labs). */
  async close(): Promise<void> {
    this.closed = true;
    const p = this.plane;
    this.plane = undefined;
    if (p) await (await p.catch(() => undefined))?.stop();
  }
}
