/**
 * Serve mode's controller: the persistent process `lab up --kubernetes --serve` leaves running
 * with the lab (recorded with its control plane: `lab down` and `lab clean` stop it). It attaches
 * to the lab by run id and to the apiserver with the lab's admin kubeconfig, and runs the roles
 * that react to objects anyone creates through the API: the kubelet (Pods on lab nodes), and the
 * cloud provider (LoadBalancer Services; see serveRoles()).
 *
 *   node dist/lib/kube/serve/controller.js CONFIG.json
 */
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { LabHandle } from '../../lab/lab.js';
import { LabKubelet } from './kubelet.js';
import { KubeProxyPods, type KubeProxyPod } from './kube-proxy-pods.js';
import { LabCloudProvider } from './cloud-provider.js';
import { ClusterApi } from '../cluster-api.js';
import { parseTopology } from '../../model/topology.js';
import type { ServeSpec } from './spec.js';
import { isEntryPoint } from '../../exec/entry.js';

/** What `lab up --serve` writes for the controller (serve.json in the control plane's directory). */
export interface ServeConfig {
  spec: ServeSpec;
  /** The admin kubeconfig file of the lab's apiserver. */
  kubeconfig: string;
  kubelet: { host: string; port: number; cert: string; key: string; ca: string };
  /** bin/returnpath-agent.js of this build. */
  agentEntry: string;
  /** Container logs and the roles' files. */
  dir: string;
  /** The nodes' kube-proxies, restarted when they exit (kube-proxy-pods.ts). */
  kubeProxies: KubeProxyPod[];
  /** The topology the lab was built from (its loadBalancers: the cloud provider's pool). */
  topology: { file: string; baseDir: string };
}

/** A role of the controller: started in order, stopped in reverse. */
export interface ServeRole {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface RoleContext {
  config: ServeConfig;
  lab: LabHandle;
  kubeConfig: KubeConfig;
  /** Whether every role started (the kubelet's /healthz). */
  healthy(): boolean;
  log(line: string): void;
}

/**
 * The roles, in start order: the kube-proxy DaemonSet's pods kept running, the kubelet (Pods), then
 * the cloud provider (LoadBalancer Services).
 */
export function serveRoles(ctx: RoleContext): ServeRole[] {
  const topology = parseTopology(readFileSync(ctx.config.topology.file, 'utf8'), ctx.config.topology.file, {
    baseDir: ctx.config.topology.baseDir,
  });
  const provider = new LabCloudProvider({
    api: new ClusterApi(ctx.kubeConfig),
    lab: ctx.lab,
    topology,
    log: (l) => ctx.log(`cloud provider: ${l}`),
  });
  const kubelet = new LabKubelet({
    kubeConfig: ctx.kubeConfig,
    spec: ctx.config.spec,
    host: (id) => ctx.lab.host(id),
    listen: ctx.config.kubelet,
    agentEntry: ctx.config.agentEntry,
    logDir: `${ctx.config.dir}/pods`,
    healthy: ctx.healthy,
    log: ctx.log,
  });
  const kubeProxies = new KubeProxyPods(ctx.config.kubeProxies, (l) => ctx.log(`kubelet: ${l}`));
  return [
    { name: 'kube-proxy pods', start: () => kubeProxies.start(), stop: () => kubeProxies.stop() },
    { name: 'kubelet', start: () => kubelet.start(), stop: () => kubelet.stop() },
    { name: 'cloud provider', start: () => provider.start(), stop: () => provider.stop() },
  ];
}

export class LabController {
  private roles: ServeRole[] = [];
  private started: ServeRole[] = [];
  private up = false;

  constructor(private readonly ctx: Omit<RoleContext, 'healthy'>) {}

  static async attach(config: ServeConfig, log: (line: string) => void): Promise<LabController> {
    const lab = await LabHandle.attach(config.spec.runId);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(config.kubeconfig);
    return new LabController({ config, lab, kubeConfig, log });
  }

  get healthy(): boolean {
    return this.up;
  }

  async start(): Promise<void> {
    this.roles = serveRoles({ ...this.ctx, healthy: () => this.up });
    for (const r of this.roles) {
      await r.start();
      this.started.push(r);
      this.ctx.log(`${r.name} started`);
    }
    this.up = true;
  }

  async stop(): Promise<void> {
    this.up = false;
    for (const r of this.started.splice(0).reverse())
      await r
        .stop()
        .catch((e: unknown) => this.ctx.log(`${r.name}: stopping failed: ${(e as Error).message}`));
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const log = (line: string): void => void process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const [file] = argv;
  if (!file) {
    process.stderr.write('usage: controller.js CONFIG.json\n');
    return 2;
  }
  const config = JSON.parse(readFileSync(file, 'utf8')) as ServeConfig;
  const controller = await LabController.attach(config, log);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= controller.stop());
  const signalled = new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve()).once('SIGINT', () => resolve());
  });
  try {
    await controller.start();
  } catch (e) {
    log(`start failed: ${(e as Error).stack ?? String(e)}`);
    await stop();
    return 1;
  }
  log(`lab ${config.spec.runId}: controller ready`);
  await signalled;
  log('stopping');
  await stop();
  return 0;
}

if (isEntryPoint(import.meta.url)) void main(process.argv.slice(2)).then((code) => process.exit(code));
