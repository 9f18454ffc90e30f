/**
 * A kind cluster made by returnpath: created (or reused) through the kind CLI from kind-config/,
 * on returnpath's own engine (default) or the user's Docker, with the CNI stand-in installed and
 * every node Ready before it is handed out; deleted leaving nothing on the host.
 *
 * Host objects carry the cluster's run id: the engine's cgroup parent and directories
 * (`returnpath-<id>`), the kind network's bridge (`rp-<runId>-kind`). Kubernetes objects and
 * containers are kind's own, labelled by kind with the cluster's name (`io.x-k8s.kind.cluster`),
 * and recorded by container id, so a cluster of the same name that returnpath did not make is
 * never touched.
 */
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DockerCli } from '../engine/docker.js';
import { engineDataDir, engineRunDir } from '../engine/paths.js';
import { claimHostDirs, LIB_MODULES } from '../engine/host-dirs.js';
import { PrivateEngine, sweepEngine, type EngineRecord } from '../engine/private-engine.js';
import { relayPort, relaysAlive, stopRelays } from '../engine/relays.js';
import { CommandError, NotFoundError, ValidationError } from '../errors.js';
import { CommandRunner, type CommandResult, type RunOptions } from '../exec/command.js';
import { acquireLock, sweepLockFiles } from '../exec/file-lock.js';
import { selfIdentity, type ProcessIdentity } from '../exec/process-identity.js';
import type { HostExec } from '../exec/netns.js';
import { Disposer } from '../lab/disposer.js';
import { loadKindConfig, renderKindConfig, type KubeProxyMode } from './config.js';
import { NodeExec, NodeNetExec, type KindNode } from './node-exec.js';
import {
  clusterState,
  kindStateDir,
  listClusterRecords,
  readClusterRecord,
  removeClusterRecord,
  writeClusterRecord,
  type ClusterRecord,
} from './records.js';
import { podRoutes, STANDIN_CONFLIST_PATH, standinConflist, type NodeRouting } from './standin-cni.js';
import { externalToolchain, privateToolchain } from './toolchain.js';

/** kind's label on every node container. */
export const KIND_CLUSTER_LABEL = 'io.x-k8s.kind.cluster';
export const KIND_ROLE_LABEL = 'io.x-k8s.kind.role';

export interface UpOptions {
  /** Cluster name (default `rp-<runId>`). */
  name?: string;
  runId?: string;
  /** kind configuration file (default kind-config/cluster.yaml). */
  config?: string;
  /** One control plane and this many workers, instead of the file's nodes. */
  workers?: number;
  kubeProxyMode?: KubeProxyMode;
  /** Reuse the cluster when it exists, and keep it afterwards (`--keep`). */
  keep?: boolean;
  /** `private` (default): returnpath's engine; `external`: the user's Docker. */
  engine?: 'private' | 'external';
  /** Node image for an external engine (default: kind's own default image). */
  image?: string;
  /**
   * Leave the CNI to the caller: no stand-in CNI (nor its routes), and no wait for Ready (nodes
   * stay NotReady until the caller's CNI is installed; the caller waits).
   */
  skipCni?: boolean;
  log?: (line: string) => void;
  /** How long nodes may take to become Ready (default 10 min). */
  readyTimeoutMs?: number;
  /** Aborts a creation in progress (kind is stopped, what was made is removed). */
  signal?: AbortSignal;
}

export interface DeleteReport {
  name: string;
  steps: string[];
}

export interface ClusterSummary {
  name: string;
  runId: string;
  state: ReturnType<typeof clusterState>;
  engine: 'private' | 'external';
  ready: boolean;
  nodes: number;
  kubeconfig: string;
}

/** One interface per backend (the lab is another): what the kind backend of `run` builds on. */
export interface ClusterProvider {
  up(o: UpOptions): Promise<KindCluster>;
  open(name: string): Promise<KindCluster>;
  list(): Promise<ClusterSummary[]>;
  down(name: string, log?: (l: string) => void): Promise<DeleteReport>;
}

export class KindProvider implements ClusterProvider {
  up(o: UpOptions): Promise<KindCluster> {
    return KindCluster.up(o);
  }
  open(name: string): Promise<KindCluster> {
    return KindCluster.open(name);
  }
  list(): Promise<ClusterSummary[]> {
    return listClusters();
  }
  down(name: string, log?: (l: string) => void): Promise<DeleteReport> {
    return deleteCluster(name, { log });
  }
}

function nameLock(name: string): Promise<{ release(): Promise<void> }> {
  return acquireLock(join(kindStateDir(), `.${name}.lock`));
}

function clientFor(r: ClusterRecord): DockerCli {
  if (!r.engine) throw new Error(`cluster ${r.name}: no engine recorded`);
  return r.engine.mode === 'private'
    ? new DockerCli({
        dockerBin: r.engine.record.dockerBin,
        host: r.engine.record.host,
        configDir: r.engine.record.configDir,
      })
    : new DockerCli({ dockerBin: r.engine.dockerBin, host: r.engine.host, configDir: r.engine.configDir });
}

/** Seconds each step of a creation took (for progress lines and the benchmark). */
export interface CreateTimings {
  engineStart?: number;
  imageLoad?: number;
  /** `kind create cluster` alone: what kind's own create time is compared with. */
  kindCreate?: number;
  /** The CNI stand-in, then every node and kube-system pod Ready. */
  cniAndReady?: number;
  total?: number;
}

export class KindCluster {
  readonly docker: DockerCli;
  /** Set on a cluster this process created. */
  timings: CreateTimings | undefined;
  private readonly runner = new CommandRunner();

  /** From a record (use `up` or `open`). */
  constructor(private record: ClusterRecord) {
    this.docker = clientFor(record);
  }

  get name(): string {
    return this.record.name;
  }
  get runId(): string {
    return this.record.runId;
  }
  /** A kubeconfig that reaches the API server from this machine. */
  get kubeconfig(): string {
    return this.record.kubeconfig;
  }
  get image(): string {
    return this.record.image;
  }
  get kept(): boolean {
    return this.record.owner === null;
  }

  /** Creates the cluster, or with `keep` reuses a Ready one returnpath made; nodes Ready on return. */
  static async up(o: UpOptions): Promise<KindCluster> {
    const log = o.log ?? (() => undefined);
    const runId = o.runId ?? randomBytes(3).toString('hex');
    const name = o.name ?? `rp-${runId}`;
    const config = await loadKindConfig(o.config, {
      name,
      ...(o.workers !== undefined && { workers: o.workers }),
      ...(o.kubeProxyMode && { kubeProxyMode: o.kubeProxyMode }),
    });
    const mode = o.engine ?? 'private';
    const tools = mode === 'private' ? await privateToolchain() : await externalToolchain();
    await mkdir(kindStateDir(), { recursive: true });
    const lock = await nameLock(name);
    try {
      const existing = await readClusterRecord(name);
      if (existing) {
        const state = clusterState(existing);
        if (o.keep && existing.ready && state !== 'owned-by-live-run') {
          const c = new KindCluster(existing);
          const made = await readFile(existing.configFile, 'utf8').catch(() => '');
          if (made !== renderKindConfig(config))
            throw new ValidationError('returnpath kind', [
              {
                path: 'config',
                value: o.config ?? 'kind-config/cluster.yaml',
                message: `cluster ${name} exists with another configuration (${existing.configFile}); remove it first: returnpath kind down ${name}`,
              },
            ]);
          if (await c.intact()) {
            log(`cluster ${name}: reusing it (made by run ${existing.runId}, ${state})`);
            c.record = { ...existing, owner: null };
            await writeClusterRecord(c.record);
            await c.waitReady({ timeoutMs: o.readyTimeoutMs, log });
            return c;
          }
        }
        throw new ValidationError('returnpath kind', [
          {
            path: 'name',
            value: name,
            message:
              state === 'owned-by-live-run'
                ? `cluster ${name} is in use by process ${existing.owner?.pid}`
                : `cluster ${name} already exists (${state}${existing.ready ? '' : ', not ready'}); ` +
                  `reuse it with --keep, or remove it: returnpath kind down ${name}`,
          },
        ]);
      }
      return await KindCluster.create(o, { name, runId, config: renderKindConfig(config), tools, log });
    } finally {
      await lock.release();
    }
  }

  private static async create(
    o: UpOptions,
    a: {
      name: string;
      runId: string;
      config: string;
      tools: Awaited<ReturnType<typeof privateToolchain>> | Awaited<ReturnType<typeof externalToolchain>>;
      log: (l: string) => void;
    },
  ): Promise<KindCluster> {
    const { name, runId, log, tools } = a;
    const t0 = performance.now();
    const timings: CreateTimings = {};
    const lap = (key: keyof CreateTimings, since: number): number => {
      timings[key] = Math.round((performance.now() - since) / 100) / 10;
      return performance.now();
    };
    const dir = kindStateDir();
    const record: ClusterRecord = {
      name,
      runId,
      owner: selfIdentity(),
      createdAt: new Date().toISOString(),
      kindBin: tools.kindBin,
      image: tools.mode === 'private' ? tools.nodeImage.info.ref : (o.image ?? ''),
      kubeconfig: join(dir, `${name}.kubeconfig`),
      configFile: join(dir, `${name}.yaml`),
      network: { name: `rp-${runId}-kind`, created: false },
      nodeContainerIds: [],
      ready: false,
    };
    await writeClusterRecord(record);
    const undo = new Disposer();
    undo.defer('cluster record', () => removeClusterRecord(name));
    try {
      await writeFile(record.configFile, a.config);
      undo.defer('kind config', () => rm(record.configFile, { force: true }));
      undo.defer('kubeconfig', () => rm(record.kubeconfig, { force: true }));

      if (tools.mode === 'private') {
        const engineId = `kind-${runId}`;
        const te = performance.now();
        const engine = await PrivateEngine.start({
          id: engineId,
          binaries: tools.binaries,
          dataDir: engineDataDir(engineId),
          runDir: engineRunDir(engineId),
          log,
        });
        lap('engineStart', te);
        record.engine = { mode: 'private', record: engine.record };
        await writeClusterRecord(record);
        undo.defer('engine', async () => {
          await engine.stop();
        });
        // kind bind-mounts /lib/modules; made here when absent, removed with the last engine.
        await claimHostDirs([LIB_MODULES]);
        const tl = performance.now();
        await engine.docker.load(tools.nodeImage.archive);
        lap('imageLoad', tl);
        log(`node image ${record.image} loaded in ${timings.imageLoad} s`);
        const bridge = `rp-${runId}-kind`;
        await engine.docker.run([
          'network',
          'create',
          '--driver',
          'bridge',
          '--label',
          `returnpath.run=${runId}`,
          '--opt',
          `com.docker.network.bridge.name=${bridge}`,
          '--opt',
          'com.docker.network.bridge.enable_ip_masquerade=false',
          '--opt',
          'com.docker.network.driver.mtu=1500',
          record.network.name,
        ]);
        record.network = { name: record.network.name, bridge, created: true };
        await writeClusterRecord(record);
        undo.defer('kind network', async () => {
          await engine.docker.run(['network', 'rm', record.network.name], { allowFailure: true });
        });
      } else {
        // The user's Docker as the user's docker CLI reaches it (DOCKER_HOST, DOCKER_CONFIG or its defaults).
        record.engine = {
          mode: 'external',
          dockerBin: tools.dockerBin,
          ...(process.env['DOCKER_HOST'] && { host: process.env['DOCKER_HOST'] }),
          ...(process.env['DOCKER_CONFIG'] && { configDir: process.env['DOCKER_CONFIG'] }),
        };
        record.network = { name: 'kind', created: false };
        await writeClusterRecord(record);
        const foreign = await new KindCluster(record).nodeContainerIds();
        if (foreign.length)
          throw new ValidationError('returnpath kind', [
            {
              path: 'name',
              value: name,
              message: `a kind cluster named ${name} exists and returnpath did not make it; choose another --name, or delete it yourself: kind delete cluster --name ${name}`,
            },
          ]);
      }

      const cluster = new KindCluster(record);
      undo.defer('kind nodes', async () => {
        await cluster
          .kind(['delete', 'cluster', '--name', name, '--kubeconfig', record.kubeconfig], log)
          .catch(() => undefined);
      });
      log(`kind create cluster ${name}`);
      const args = [
        'create',
        'cluster',
        '--name',
        name,
        '--config',
        record.configFile,
        '--kubeconfig',
        record.kubeconfig,
      ];
      if (record.image) args.push('--image', record.image);
      const tk = performance.now();
      await cluster.kind(args, log, o.signal);
      const tr = lap('kindCreate', tk);
      o.signal?.throwIfAborted();
      record.nodeContainerIds = await cluster.nodeContainerIds();
      await writeClusterRecord(record);
      if (record.engine?.mode === 'private' && record.engine.record.netns) {
        const relay = await relayApiServer(record.kubeconfig, record.engine.record);
        record.apiRelay = relay;
        await writeClusterRecord(record);
        undo.defer('API server relays', () => stopRelays(relay.processes));
        log(`API server relayed to 127.0.0.1:${relay.port} (the engine's network namespace stays its own)`);
      }
      if (!o.skipCni) {
        await cluster.installStandinCni(log, o.signal);
        await cluster.waitReady({ timeoutMs: o.readyTimeoutMs, log, signal: o.signal });
      }
      lap('cniAndReady', tr);
      lap('total', t0);
      record.ready = true;
      if (o.keep) record.owner = null;
      await writeClusterRecord(record);
      log(
        `cluster ${name} ready in ${timings.total} s (kind create cluster ${timings.kindCreate} s` +
          (timings.imageLoad !== undefined ? `, node image load ${timings.imageLoad} s` : '') +
          `, CNI and Ready ${timings.cniAndReady} s)`,
      );
      cluster.timings = timings;
      return cluster;
    } catch (e) {
      log(`cluster ${name}: creation failed, removing what was made`);
      await undo.dispose().catch((d: unknown) => log(`  teardown: ${(d as Error).message}`));
      throw e;
    }
  }

  /** A cluster returnpath made, by name (NotFoundError otherwise). */
  static async open(name: string): Promise<KindCluster> {
    const r = await readClusterRecord(name);
    if (!r) throw new NotFoundError(`no kind cluster ${name} made by returnpath; see 'returnpath kind list'`);
    const c = new KindCluster(r);
    if (r.engine?.mode === 'private' && !PrivateEngine.attach(r.engine.record))
      throw new NotFoundError(
        `kind cluster ${name}: its engine is gone; remove it with 'returnpath kind down ${name}'`,
      );
    return c;
  }

  /** Marks the cluster kept: `kind clean` leaves it, the next `--keep` run reuses it. */
  async keep(): Promise<void> {
    this.record = { ...this.record, owner: null };
    await writeClusterRecord(this.record);
  }

  /** Runs the kind CLI against this cluster's engine, streaming its lines to `log`. */
  kind(
    args: readonly string[],
    log: (l: string) => void = () => undefined,
    signal?: AbortSignal,
  ): Promise<CommandResult> {
    const env: NodeJS.ProcessEnv = { ...process.env, KIND_EXPERIMENTAL_PROVIDER: 'docker' };
    const e = this.record.engine;
    if (e?.mode === 'private') {
      Object.assign(env, this.docker.env());
      env['PATH'] = [dirname(e.record.dockerBin), process.env['PATH'] ?? ''].join(':');
      env['KIND_EXPERIMENTAL_DOCKER_NETWORK'] = this.record.network.name;
    } else if (e?.mode === 'external') Object.assign(env, this.docker.env());
    return runStreaming([this.record.kindBin, ...args], env, (l) => log(`  kind: ${l}`), signal);
  }

  async nodeContainerIds(): Promise<string[]> {
    return this.docker.containersWithLabels({ [KIND_CLUSTER_LABEL]: this.record.name });
  }

  /** The node containers, with their pids, network namespaces and addresses. */
  async nodes(): Promise<KindNode[]> {
    const ids = await this.nodeContainerIds();
    const info = await this.docker.inspect<ContainerInspect>('container', ids);
    return info
      .map((c) => {
        const nets = c.NetworkSettings?.Networks ?? {};
        const net = nets[this.record.network.name] ?? Object.values(nets)[0];
        return {
          name: c.Name.replace(/^\//, ''),
          role:
            c.Config?.Labels?.[KIND_ROLE_LABEL] === 'control-plane'
              ? ('control-plane' as const)
              : ('worker' as const),
          containerId: c.Id,
          pid: c.State?.Pid ?? 0,
          netns: `/proc/${c.State?.Pid ?? 0}/ns/net`,
          address: net?.IPAddress ?? '',
        };
      })
      .sort((a, b) =>
        a.role === b.role ? a.name.localeCompare(b.name) : a.role === 'control-plane' ? -1 : 1,
      );
  }

  /** Runs argv inside a node container. */
  exec(node: string, argv: readonly string[], opts?: RunOptions): Promise<CommandResult> {
    return this.docker.run(['exec', '--interactive', node, ...argv], opts);
  }

  /** A node as a HostExec: inside its container (its tools, all its namespaces). */
  nodeExec(node: KindNode): HostExec {
    return new NodeExec(node, this.docker, this.runner);
  }

  /** A node as a HostExec: the host's tools in the node's network namespace. */
  nodeNetExec(node: KindNode): HostExec {
    return new NodeNetExec(node, this.runner);
  }

  /** kubectl as the cluster admin, run in the control-plane node (no dependence on the host's route to it). */
  async kubectl(args: readonly string[], opts?: RunOptions): Promise<CommandResult> {
    const cp = (await this.nodes()).find((n) => n.role === 'control-plane');
    if (!cp) throw new NotFoundError(`kind cluster ${this.name}: no control-plane node`);
    return this.exec(cp.containerId, ['kubectl', '--kubeconfig=/etc/kubernetes/admin.conf', ...args], opts);
  }

  /**
   * Loads a `docker save` archive into the nodes' containerd (kind's own `load image-archive`):
   * every node, or the containers named.
   */
  async loadImageArchive(file: string, log?: (l: string) => void, nodes?: readonly string[]): Promise<void> {
    await this.kind(
      ['load', 'image-archive', file, '--name', this.name, ...(nodes ? ['--nodes', nodes.join(',')] : [])],
      log,
    );
  }

  /** True when the engine runs and the nodes are the ones kind made for this record. */
  async intact(): Promise<boolean> {
    if (this.record.engine?.mode === 'private' && !PrivateEngine.attach(this.record.engine.record))
      return false;
    if (this.record.apiRelay && !relaysAlive(this.record.apiRelay.processes)) return false;
    const ids = await this.nodeContainerIds().catch(() => undefined);
    if (!ids || ids.length === 0) return false;
    return ids.every((id) => this.record.nodeContainerIds.includes(id));
  }

  /** The CNI stand-in (see standin-cni.ts): once every node has its podCIDR. */
  async installStandinCni(log: (l: string) => void = () => undefined, signal?: AbortSignal): Promise<void> {
    const nodes = await this.nodes();
    // A Node is known by its address on the kind network (its name may differ from the container's).
    const cidrs = await this.waitFor(
      'every node has a podCIDR',
      120_000,
      async () => {
        const byAddress = new Map((await this.nodeObjects()).map((n) => [internalIP(n), n.spec?.podCIDR]));
        return nodes.every((n) => byAddress.get(n.address)) ? byAddress : undefined;
      },
      log,
      signal,
    );
    const routing: NodeRouting[] = nodes.map((n) => ({
      name: n.name,
      address: n.address,
      podCIDR: cidrs.get(n.address)!,
    }));
    for (const n of routing) {
      await this.exec(n.name, ['mkdir', '-p', dirname(STANDIN_CONFLIST_PATH)]);
      await this.exec(n.name, ['tee', STANDIN_CONFLIST_PATH], { input: standinConflist(n.podCIDR) });
      const routes = podRoutes(n.name, routing);
      if (routes.length) await this.exec(n.name, ['ip', '-batch', '-'], { input: routes.join('\n') + '\n' });
    }
    log(`CNI stand-in (ptp/host-local) on ${routing.map((n) => `${n.name} ${n.podCIDR}`).join(', ')}`);
  }

  /** Waits until every node is Ready and kube-system's pods are Ready (CoreDNS, kube-proxy). */
  async waitReady(
    o: {
      timeoutMs?: number | undefined;
      log?: (l: string) => void;
      pods?: boolean;
      signal?: AbortSignal | undefined;
    } = {},
  ): Promise<void> {
    const log = o.log ?? (() => undefined);
    const timeout = o.timeoutMs ?? 600_000;
    const expected = (await this.nodes()).length;
    await this.waitFor(
      `${expected} nodes Ready`,
      timeout,
      async () => {
        const list = await this.nodeObjects();
        const ready = list.filter((n) =>
          n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        );
        return list.length === expected && ready.length === expected ? true : undefined;
      },
      log,
      o.signal,
    );
    if (o.pods === false) return;
    await this.waitFor(
      'kube-system pods Ready',
      timeout,
      async () => {
        const pods = JSON.parse(
          (await this.kubectl(['get', 'pods', '-n', 'kube-system', '-o', 'json'])).stdout,
        ) as {
          items: PodObject[];
        };
        const notReady = pods.items.filter(
          (p) =>
            p.status?.phase !== 'Succeeded' &&
            !p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        );
        return pods.items.length > 0 && notReady.length === 0 ? true : undefined;
      },
      log,
      o.signal,
    );
  }

  async nodeObjects(): Promise<NodeObject[]> {
    return (
      JSON.parse((await this.kubectl(['get', 'nodes', '-o', 'json'])).stdout) as { items: NodeObject[] }
    ).items;
  }

  /** Polls `probe` (a condition, never a fixed delay) until it yields a value or the deadline passes. */
  async waitFor<T>(
    what: string,
    timeoutMs: number,
    probe: () => Promise<T | undefined>,
    log: (l: string) => void = () => undefined,
    signal?: AbortSignal,
  ): Promise<T> {
    const t0 = Date.now();
    let lastError = '';
    let lastBeat = t0;
    for (;;) {
      signal?.throwIfAborted();
      const v = await probe().catch((e: unknown) => {
        lastError = (e as Error).message.split('\n')[0] ?? '';
        return undefined;
      });
      if (v !== undefined) return v;
      const now = Date.now();
      if (now - t0 > timeoutMs)
        throw new Error(
          `kind cluster ${this.name}: timed out after ${Math.round(timeoutMs / 1000)} s waiting until ${what}${lastError ? ` (${lastError})` : ''}`,
        );
      if (now - lastBeat > 30_000) {
        log(`waiting until ${what} (${Math.round((now - t0) / 1000)} s)`);
        lastBeat = now;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** Deletes the cluster and everything it made on the host. */
  delete(log?: (l: string) => void): Promise<DeleteReport> {
    return deleteCluster(this.name, { log });
  }
}

/** A Node's InternalIP. */
export function internalIP(n: NodeObject): string | undefined {
  return n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
}

interface ContainerInspect {
  Id: string;
  Name: string;
  State?: { Pid?: number };
  Config?: { Labels?: Record<string, string> };
  NetworkSettings?: { Networks?: Record<string, { IPAddress?: string }> };
}

interface Condition {
  type: string;
  status: string;
}

export interface NodeObject {
  metadata: { name: string; labels?: Record<string, string> };
  spec?: { podCIDR?: string };
  status?: { conditions?: Condition[]; addresses?: { type: string; address: string }[] };
}

interface PodObject {
  metadata: { name: string };
  status?: { phase?: string; conditions?: Condition[] };
}

/**
 * Deletes a cluster returnpath made: kind's nodes, the network, the engine (and what a killed
 * engine left), /lib/modules when returnpath made it and nothing else needs it, the files. Refuses
 * a cluster whose nodes are not the ones returnpath recorded.
 */
export async function deleteCluster(
  name: string,
  o: { log?: ((l: string) => unknown) | undefined } = {},
): Promise<DeleteReport> {
  const log = o.log ?? (() => undefined);
  const lock = await nameLock(name);
  const steps: string[] = [];
  try {
    const r = await readClusterRecord(name);
    if (!r) throw new NotFoundError(`no kind cluster ${name} made by returnpath; see 'returnpath kind list'`);
    const c = new KindCluster(r);
    const engineAlive =
      r.engine?.mode === 'external' ||
      (r.engine?.mode === 'private' && PrivateEngine.attach(r.engine.record));
    if (engineAlive) {
      const ids = await c.nodeContainerIds().catch(() => [] as string[]);
      const foreign = r.ready ? ids.filter((id) => !r.nodeContainerIds.includes(id)) : [];
      if (foreign.length)
        throw new ValidationError('returnpath kind', [
          {
            path: 'name',
            value: name,
            message: `the nodes of kind cluster ${name} are not the ones returnpath made (${foreign.length} unknown); left alone`,
          },
        ]);
      if (ids.length) {
        await c.kind(['delete', 'cluster', '--name', name, '--kubeconfig', r.kubeconfig], log);
        steps.push(`kind delete cluster ${name} (${ids.length} nodes)`);
      }
      if (r.network.created) {
        await c.docker.run(['network', 'rm', r.network.name], { allowFailure: true });
        steps.push(`docker network rm ${r.network.name}`);
      }
    }
    if (r.apiRelay) await stopRelays(r.apiRelay.processes);
    if (r.engine?.mode === 'private') {
      const s = await sweepEngine(r.engine.record);
      steps.push(
        `engine ${r.engine.record.id} stopped` +
          (s.killed.length ? `, ${s.killed.length} leftover processes killed` : '') +
          (s.unmounted.length ? `, ${s.unmounted.length} mounts removed` : ''),
      );
      if (s.cgroupsLeft.length) steps.push(`cgroups left: ${s.cgroupsLeft.join(', ')}`);
      if (s.hostDirs.length) steps.push(`removed ${s.hostDirs.join(', ')}`);
      if (r.network.bridge && !r.engine.record.netns) {
        // Left only when the engine was killed: its ports first (a veth outlives a dead container
        // while the kernel still holds the container's namespace), then the bridge.
        const runner = new CommandRunner();
        const link = await runner.run(['ip', 'link', 'show', r.network.bridge], { allowFailure: true });
        if (link.code === 0) {
          const ports = await runner.run(['ip', '-o', 'link', 'show', 'master', r.network.bridge], {
            allowFailure: true,
          });
          for (const port of ports.stdout.matchAll(/^\d+:\s+([^:@\s]+)/gm))
            await runner.run(['ip', 'link', 'del', port[1]!], { allowFailure: true });
          await runner.run(['ip', 'link', 'del', r.network.bridge]);
          steps.push(`link ${r.network.bridge} removed`);
        }
      }
    }
    await rm(r.kubeconfig, { force: true });
    await rm(r.configFile, { force: true });
    await removeClusterRecord(name);
    for (const s of steps) log(s);
    return { name, steps };
  } finally {
    await lock.release();
    // The name's lock file (and any other no one holds): nothing of the cluster is left.
    await sweepLockFiles(kindStateDir());
  }
}

export async function listClusters(): Promise<ClusterSummary[]> {
  return (await listClusterRecords()).map((r) => ({
    name: r.name,
    runId: r.runId,
    state: clusterState(r),
    engine: r.engine?.mode ?? 'private',
    ready: r.ready,
    nodes: r.nodeContainerIds.length,
    kubeconfig: r.kubeconfig,
  }));
}

/** Terminal colour and cursor sequences (ESC [ ... letter) kind prints around its status lines. */
const ANSI_ESCAPE = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*[A-Za-z]`, 'g');

/** Runs argv with `env`, passing each output line to `line`; throws CommandError with the output's tail. */
function runStreaming(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  line: (l: string) => void,
  signal?: AbortSignal,
): Promise<CommandResult> {
  const [file, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(file!, args, { env, stdio: ['ignore', 'pipe', 'pipe'], ...(signal && { signal }) });
    const out: string[] = [];
    const feed = (buf: { rest: string }) => (d: Buffer) => {
      const text = buf.rest + d.toString();
      const parts = text.split(/\r?\n|\r/);
      buf.rest = parts.pop() ?? '';
      for (const p of parts) {
        const clean = p.replace(ANSI_ESCAPE, '').trim();
        if (clean) {
          out.push(clean);
          line(clean);
        }
      }
    };
    const so = { rest: '' };
    const se = { rest: '' };
    child.stdout.on('data', feed(so));
    child.stderr.on('data', feed(se));
    child.on('error', (e) => reject(new CommandError(argv, null, e.message)));
    child.on('close', (code) => {
      for (const rest of [so.rest, se.rest]) if (rest.trim()) out.push(rest.trim());
      const text = out.join('\n');
      if (code === 0) resolve({ argv, code, stdout: text, stderr: '' });
      else reject(new CommandError(argv, code, out.slice(-15).join('\n')));
    });
  });
}

export type { KindNode };

/**
 * kind publishes the API server on 127.0.0.1 of the engine's network namespace; relays carry it to
 * this machine's 127.0.0.1, and the kubeconfig kind wrote is pointed at them.
 */
async function relayApiServer(
  kubeconfig: string,
  engine: EngineRecord,
): Promise<{ port: number; processes: ProcessIdentity[] }> {
  const text = await readFile(kubeconfig, 'utf8');
  const m = /server: https:\/\/127\.0\.0\.1:(\d+)/.exec(text);
  if (!m) throw new Error(`${kubeconfig}: no server on 127.0.0.1 (kind publishes the API server there)`);
  const r = await relayPort({
    netns: engine.netns!,
    target: Number(m[1]),
    dir: engine.runDir,
    name: 'apiserver',
  });
  await writeFile(kubeconfig, text.replace(m[0], `server: https://127.0.0.1:${r.port}`));
  return { port: r.port, processes: r.processes };
}
