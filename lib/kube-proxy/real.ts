/**
 * The real kube-proxy (the upstream binary at the pinned version) inside a node's network
 * namespace, configured as EKS's add-on configures it (config.ts).
 *
 * A node namespace cannot reach the host's loopback, where the control plane listens, and nothing
 * is added to it (it is the system under test: its interfaces, routes and rules are what the
 * evidence and fingerprints look at). A relay process inside the namespace listens on its own
 * loopback (127.0.0.1:6443, the kube-proxy's apiserver address) and forwards to the control
 * plane's unix socket; TLS passes through end to end. The same relay exposes kube-proxy's healthz
 * and metrics ports to the host as unix sockets.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NetnsExec } from '../exec/netns.js';
import { ComponentProcess } from '../kube/component-process.js';
import { DIST_DIR } from '../lab/lab.js';
import { forwardArg } from '../kube/relay-spec.js';
import { httpGet } from '../kube/http.js';
import { done, notYet, waitFor } from '../kube/wait.js';
import {
  HEALTHZ_PORT,
  METRICS_PORT,
  renderKubeProxyConfiguration,
  type DetectLocal,
  type ProxyMode,
} from './config.js';

/** Where kube-proxy finds the apiserver inside a node namespace (the relay). */
export const RELAY_APISERVER_PORT = 6443;

export interface RealKubeProxyOptions {
  exec: NetnsExec;
  nodeName: string;
  binary: string;
  /** Directory for its config, kubeconfig, log and sockets (short: unix socket paths are limited). */
  dir: string;
  /** kubeconfig text of system:kube-proxy with server https://127.0.0.1:6443. */
  kubeconfig: string;
  /** The control plane's unix socket for this slot's apiserver. */
  apiserverSocket: string;
  mode: ProxyMode;
  detectLocal: DetectLocal;
  clusterCIDR: string;
  /** Survives this process (`lab up --kubernetes`). */
  detached?: boolean;
  timeoutMs?: number;
}

/** Restarts allowed while kube-proxy starts (before its first sync), as the kubelet would. */
export const KUBE_PROXY_START_RESTARTS = 3;

export class RealKubeProxy {
  private constructor(
    readonly nodeName: string,
    readonly process: ComponentProcess,
    readonly relay: ComponentProcess,
    readonly healthzSocket: string,
    readonly metricsSocket: string,
  ) {}

  static async start(o: RealKubeProxyOptions): Promise<RealKubeProxy> {
    await mkdir(o.dir, { recursive: true, mode: 0o700 });
    const kubeconfig = join(o.dir, 'kubeconfig');
    const config = join(o.dir, 'config.yaml');
    const healthzSocket = join(o.dir, 'healthz.sock');
    const metricsSocket = join(o.dir, 'metrics.sock');
    await writeFile(kubeconfig, o.kubeconfig, { mode: 0o600 });
    await writeFile(
      config,
      renderKubeProxyConfiguration({
        nodeName: o.nodeName,
        kubeconfig,
        mode: o.mode,
        detectLocal: o.detectLocal,
        clusterCIDR: o.clusterCIDR,
      }),
    );
    const relayLog = join(o.dir, 'relay.log');
    const relay = ComponentProcess.start({
      name: `kube-proxy relay on ${o.nodeName}`,
      argv: o.exec.wrap([
        process.execPath,
        join(DIST_DIR, 'lib/kube/relay.js'),
        forwardArg(
          { kind: 'tcp', host: '127.0.0.1', port: RELAY_APISERVER_PORT },
          { kind: 'unix', path: o.apiserverSocket },
        ),
        forwardArg(
          { kind: 'unix', path: healthzSocket },
          { kind: 'tcp', host: '127.0.0.1', port: HEALTHZ_PORT },
        ),
        forwardArg(
          { kind: 'unix', path: metricsSocket },
          { kind: 'tcp', host: '127.0.0.1', port: METRICS_PORT },
        ),
      ]),
      logFile: relayLog,
      detached: o.detached ?? false,
    });
    try {
      await waitFor(
        async () => {
          const n = relay.lastLines(10).filter((l) => l.startsWith('listening ')).length;
          return n >= 3 ? done(true) : notYet(`${n} of 3 listeners up`);
        },
        { what: `the relay on ${o.nodeName}`, components: [relay], timeoutMs: o.timeoutMs ?? 30_000 },
      );
    } catch (e) {
      await relay.stop();
      throw e;
    }
    const proc = ComponentProcess.start({
      name: `kube-proxy on ${o.nodeName}`,
      argv: o.exec.wrap([o.binary, `--config=${config}`, `--hostname-override=${o.nodeName}`, '--v=2']),
      logFile: join(o.dir, 'kube-proxy.log'),
      detached: o.detached ?? false,
      // The DaemonSet's pod restarts when kube-proxy crashes at start (an upstream start-up race,
      // see ComponentProcessOptions); once it has synced, an exit ends the cell as an error.
      restartsBeforeReady: KUBE_PROXY_START_RESTARTS,
    });
    return new RealKubeProxy(o.nodeName, proc, relay, healthzSocket, metricsSocket);
  }

  components(): ComponentProcess[] {
    return [this.process, this.relay];
  }

  /** It has written the lab's rules once: from now on an exit is a death, not a restart. */
  markSynced(): void {
    this.process.markReady();
  }

  /** kube-proxy's /healthz (200 once it has synced and keeps syncing), through the relay. */
  healthz(): Promise<{ status: number; body: string }> {
    return httpGet('http://localhost/healthz', undefined, this.healthzSocket);
  }

  /** kube-proxy's Prometheus metrics, through the relay. */
  async metrics(): Promise<string> {
    return (await httpGet('http://localhost/metrics', undefined, this.metricsSocket)).body;
  }

  /** Stops kube-proxy, then its relay. */
  async stop(): Promise<void> {
    await this.process.stop();
    await this.relay.stop();
  }
}
