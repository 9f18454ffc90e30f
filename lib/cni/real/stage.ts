/**
 * The lab stage that wires nodes with a real CNI, after the namespaces are configured and before
 * servers and the plan's processes start:
 *
 * - VPC CNI (`implementation: real`): per node, the node helper runs the module's own
 *   SetupHostNetwork / SetupENINetwork with the topology's ENIs (found by MAC, as on EC2) and the
 *   profile's options as the CNI's environment variables; then one ipamd stand-in process for the
 *   lab (in the fabric namespace) answers each node's plugin on its own Unix socket; plugins up to
 *   v1.7 dial TCP 127.0.0.1:50051, which a forwarder in the node's namespace carries to that
 *   socket. Each pod gets ADD through the CNI protocol (EKS's conflist: aws-cni, then egress-cni,
 *   disabled, as on an IPv4 cluster). The plugin runs in a private mount namespace where
 *   /var/run/aws-node is the node's directory (cni-exec): nothing is created on the machine.
 * - Any CNI (`profile: plugin`): the conflist's plugins from binDir, ADD per pod with the pod's
 *   address in CNI_ARGS (IP=) and the `ips` capability.
 *
 * Everything is registered for teardown as it is created: DEL per pod (reverse order), the
 * forwarders, the stand-in, the run's files. Errors name the node, the pod and the plugin, with
 * the plugin's own message and the end of its log.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { release } from '../../exec/children.js';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { netnsPrefix } from '../../exec/netns.js';
import { CommandError, ValidationError } from '../../errors.js';
import { DIST_DIR, type Lab, type LabStage } from '../../lab/lab.js';
import { sysctl } from '../../lab/realize.js';
import { NETNS_DIR, runDir } from '../../lab/state.js';
import { confEntries } from '../../model/sysctls.js';
import {
  realCni,
  type Node,
  type NodeCni,
  type Pod,
  type Topology,
  type VpcCniSpec,
} from '../../model/topology.js';
import type { Conflist } from '../../model/conflist.js';
import { CniError, CniRuntime, PluginNotFoundError, type RuntimeConf } from '../protocol/index.js';
import { describeCni } from '../index.js';
import { eniTable } from '../vpc-cni.js';
import { resolveVpcCniBuild, type VpcCniBuild } from './build.js';
import type { StandinConfig, StandinNode } from './ipamd.js';

/** The lab's links are veths with the default MTU; the CNI's default (9001) would exceed the peer's. */
export const LAB_MTU = '1500';
/** ADDs in flight at once across the lab (each is a few short-lived processes). */
const ADD_CONCURRENCY = 8;
const READY_TIMEOUT_MS = 15_000;

/** A real CNI failed while the lab came up: names the node, pod and plugin. */
export class CniStageError extends Error {
  override readonly name = 'CniStageError';
}

export interface RealNode {
  node: Node;
  index: number;
  cni: NodeCni;
  pods: Pod[];
  dir: string;
  runtime: CniRuntime;
  conflist: Conflist;
  /** The label results and errors use: `real vpc-cni v1.23.2`. */
  label: string;
  vpc?: { spec: VpcCniSpec; build: VpcCniBuild };
}

/** The stage for a topology's real-CNI nodes, or undefined when every node is emulated. */
export function realCniStage(topology: Topology): LabStage | undefined {
  const nodes = topology.nodes.filter((n) => realCni(n.cni));
  if (nodes.length === 0) return undefined;
  const labels = [...new Set(nodes.map((n) => describeCni(n.cni)))];
  return { name: labels.join(', '), setUp: (lab) => setUp(lab, topology, nodes) };
}

/**
 * The CNI runtime and conflist the stage uses for a node of a lab that is up, and the runtime
 * parameters it gives a pod (tests call the plugin directly with it, e.g. for a pod ipamd does
 * not know).
 */
export async function realCniNode(
  lab: Lab,
  topology: Topology,
  nodeName: string,
): Promise<{ runtime: CniRuntime; conflist: Conflist; label: string; podConf: (pod: Pod) => RuntimeConf }> {
  const node = topology.nodes.find((n) => n.name === nodeName && realCni(n.cni));
  if (!node) throw new Error(`no real-CNI node ${nodeName}`);
  const r = await prepareNode(lab, topology, node, join(runDir(lab.runId), 'cni'));
  return {
    runtime: r.runtime,
    conflist: r.conflist,
    label: r.label,
    podConf: (pod) => podRuntimeConf(lab, pod),
  };
}

/**
 * CHECK every pod of the lab's real-CNI nodes with its cached ADD result (libcni CheckNetworkList;
 * lists that disable CHECK, as EKS's VPC CNI conflist does, are skipped). Throws what the plugin said.
 */
export async function checkRealCniPods(lab: Lab, topology: Topology): Promise<void> {
  const base = join(runDir(lab.runId), 'cni');
  for (const node of topology.nodes.filter((n) => realCni(n.cni))) {
    const r = await prepareNode(lab, topology, node, base);
    for (const pod of r.pods) {
      try {
        await r.runtime.checkNetworkList(r.conflist, podRuntimeConf(lab, pod));
      } catch (e) {
        throw await podError(r, pod, 'CHECK', e);
      }
    }
  }
}

function containerId(runId: string, pod: Pod): string {
  return createHash('sha256').update(`${runId}/${pod.name}`).digest('hex');
}

function podRuntimeConf(lab: Lab, pod: Pod): RuntimeConf {
  const id = containerId(lab.runId, pod);
  return {
    containerId: id,
    netns: join(NETNS_DIR, lab.host(`pod/${pod.name}`).netns),
    ifName: 'eth0',
    args: [
      ['IgnoreUnknown', '1'],
      ['K8S_POD_NAMESPACE', 'default'],
      ['K8S_POD_NAME', pod.name],
      ['K8S_POD_INFRA_CONTAINER_ID', id],
      ['IP', pod.address],
    ],
    capabilityArgs: { ips: [`${pod.address}/32`] },
  };
}

async function lastLines(file: string, n: number): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-n).join('\n');
}

async function setUp(lab: Lab, topology: Topology, nodes: Node[]): Promise<void> {
  const base = join(runDir(lab.runId), 'cni');
  await mkdir(base, { recursive: true });
  lab.defer(`real CNI files of run ${lab.runId}`, () => rm(base, { recursive: true, force: true }));

  const real = await Promise.all(nodes.map((node) => prepareNode(lab, topology, node, base)));
  const vpcNodes = real.filter((r) => r.vpc);

  // Node setup, the ipamd stand-in and the forwarders come up side by side. The stand-in hands out
  // the route table of each pod's ENI as ipamd computes it on network card 0 (device + 1, main for
  // device 0); the node helper reports what the real GetRouteTableNumberForENI chose, checked below.
  const expected = new Map(vpcNodes.map((r) => [r.node.name, expectedTables(r.node)]));
  const byProto = new Map<string, RealNode[]>();
  for (const r of vpcNodes) {
    const proto = r.vpc!.build.file('rpc/rpc.proto');
    byProto.set(proto, [...(byProto.get(proto) ?? []), r]);
  }
  await allOrFirstError([
    ...vpcNodes.map(async (r) =>
      checkTables(r, await setUpVpcNode(lab, topology, r), expected.get(r.node.name)!),
    ),
    ...real.filter((x) => x.cni.profile === 'plugin').map((r) => checkPlugins(r)),
    ...[...byProto].map(([proto, group], i) =>
      startStandin(lab, base, `ipamd-${i}`, {
        proto,
        nodes: group.map((r) => standinNode(topology, r, expected.get(r.node.name)!)),
      }),
    ),
    ...vpcNodes.filter((r) => r.vpc!.build.profile === 'vpc-cni-legacy').map((r) => startForwarder(lab, r)),
  ]);

  const pods = real.flatMap((r) => r.pods.map((pod) => ({ r, pod })));
  // Every pod whose ADD started gets DEL when the lab comes down (as a container runtime cleans up
  // a sandbox whose setup failed half-way), latest first, several at a time.
  const started: { r: RealNode; pod: Pod }[] = [];
  lab.defer(`CNI DEL of the pods of ${real.map((r) => `node ${r.node.name}`).join(', ')}`, async () => {
    const errors: Error[] = [];
    await firstFailure([...started].reverse(), ADD_CONCURRENCY, async ({ r, pod }) => {
      try {
        await r.runtime.delNetworkList(r.conflist, podRuntimeConf(lab, pod));
      } catch (e) {
        errors.push(await podError(r, pod, 'DEL', e));
      }
    });
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, errors.map((e) => e.message).join('\n'));
  });
  await firstFailure(pods, ADD_CONCURRENCY, async ({ r, pod }) => {
    started.push({ r, pod });
    await addPod(lab, r, pod);
  });
}

/** Waits for every step (each registers its own teardown), then throws the first failure. */
export async function allOrFirstError(steps: Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(steps)).find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Route table per ENI device as ipamd computes it on network card 0 (CalculateRouteTableId). */
export function expectedTables(node: Node): Map<number, number> {
  return new Map(node.enis.map((e) => [e.index, e.index === 0 ? 254 : eniTable(e.index)]));
}

export function checkTables(r: RealNode, got: Map<number, number>, want: Map<number, number>): void {
  for (const [device, table] of got)
    if (want.get(device) !== table)
      throw new CniStageError(
        `node ${r.node.name}: ${r.label} set ENI device ${device} up with route table ${table}, ` +
          `but ipamd would hand pods table ${want.get(device)}`,
      );
}

/**
 * Runs `fn` over items, `limit` at a time; after the first failure starts no more, lets the ones
 * in flight finish (their teardown is registered) and throws that first error.
 */
async function firstFailure<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (e) {
        failed ??= { error: e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed) throw failed.error;
}

export async function prepareNode(lab: Lab, topology: Topology, node: Node, base: string): Promise<RealNode> {
  const index = topology.nodes.indexOf(node);
  const dir = join(base, node.name);
  await mkdir(dir, { recursive: true });
  const pods = topology.pods.filter((p) => p.node === node.name);
  const netns = lab.host(`node/${node.name}`).netns;
  const cni = node.cni;
  const label = describeCni(cni);
  if (cni.profile === 'plugin') {
    // host-local keeps its allocations in dataDir (default /var/lib/cni/networks): the run's directory
    // instead, so the machine keeps nothing.
    const conflist: Conflist = {
      ...cni.conflist,
      plugins: cni.conflist.plugins.map((p) => {
        const ipam = p['ipam'] as Record<string, unknown> | undefined;
        return ipam?.['type'] === 'host-local'
          ? { ...p, ipam: { ...ipam, dataDir: join(dir, 'host-local') } }
          : p;
      }),
    };
    const runtime = new CniRuntime({
      binDirs: [cni.binDir],
      cacheDir: join(dir, 'cache'),
      wrap: (bin) => [...netnsPrefix(netns), bin],
      timeoutMs: cni.timeoutSeconds * 1000,
    });
    return { node, index, cni, pods, dir, runtime, conflist, label };
  }
  const spec = cni as VpcCniSpec;
  const build = await resolveVpcCniBuild(spec, `nodes[${index}].cni`);
  await mkdir(join(dir, 'aws-node'), { recursive: true });
  await mkdir(join(dir, 'mnt'), { recursive: true });
  const legacy = spec.profile === 'vpc-cni-legacy';
  const runtime = new CniRuntime({
    binDirs: [join(build.dir, 'bin')],
    cacheDir: join(dir, 'cache'),
    // A private mount namespace in the node's network namespace, /var/run/aws-node = dir/aws-node.
    wrap: (bin) => [
      ...netnsPrefix(netns),
      'unshare',
      '--mount',
      '--propagation',
      'private',
      build.file('bin/cni-exec'),
      'plugin',
      '--ipamd-dir',
      join(dir, 'aws-node'),
      '--scratch',
      join(dir, 'mnt'),
      '--',
      bin,
    ],
    env: { AWS_VPC_K8S_CNI_LOG_FILE: join(dir, 'ipamd.log') },
    timeoutMs: 30_000,
  });
  const common = {
    vethPrefix: spec.vethPrefix,
    mtu: LAB_MTU,
    pluginLogFile: join(dir, 'plugin.log'),
    pluginLogLevel: 'DEBUG',
  };
  // EKS's 10-aws.conflist (misc/10-aws.conflist) without portmap (no hostPorts in the lab); v1.7's
  // conflist had aws-cni and portmap at cniVersion 0.3.1.
  const conflist: Conflist = legacy
    ? { cniVersion: '0.3.1', name: 'aws-cni', plugins: [{ type: 'aws-cni', name: 'aws-cni', ...common }] }
    : {
        cniVersion: '0.4.0',
        name: 'aws-cni',
        disableCheck: true,
        plugins: [
          { type: 'aws-cni', name: 'aws-cni', ...common },
          {
            type: 'egress-cni',
            name: 'egress-cni',
            mtu: LAB_MTU,
            enabled: 'false',
            nodeIP: node.address,
            pluginLogFile: join(dir, 'egress-plugin.log'),
            pluginLogLevel: 'DEBUG',
          },
        ],
      };
  return {
    node,
    index,
    cni,
    pods,
    dir,
    runtime,
    conflist,
    label,
    vpc: { spec, build },
  };
}

/** The CNI's options as its own environment variables (pkg/networkutils/network.go). */
export function vpcCniEnv(spec: VpcCniSpec, dir: string): Record<string, string> {
  return {
    AWS_VPC_K8S_CNI_EXTERNALSNAT: String(spec.externalSNAT),
    AWS_VPC_K8S_CNI_RANDOMIZESNAT: spec.randomizeSNAT,
    AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS: spec.excludeSnatCidrs.join(','),
    AWS_VPC_CNI_NODE_PORT_SUPPORT: String(spec.nodePortSupport),
    AWS_VPC_K8S_CNI_CONNMARK: `0x${spec.connmark.toString(16)}`,
    AWS_VPC_K8S_CNI_VETHPREFIX: spec.vethPrefix,
    AWS_EXTERNAL_SERVICE_CIDRS: spec.externalServiceCidrs.join(','),
    AWS_VPC_ENI_MTU: LAB_MTU,
    AWS_VPC_K8S_CNI_LOG_FILE: join(dir, 'ipamd.log'),
    AWS_VPC_K8S_CNI_LOGLEVEL: 'DEBUG',
  };
}

/** Runs the node helper; returns device -> route table. */
export async function setUpVpcNode(lab: Lab, topology: Topology, r: RealNode): Promise<Map<number, number>> {
  const { spec, build } = r.vpc!;
  const host = lab.host(`node/${r.node.name}`);
  const macs = lab.plan.hosts.find((h) => h.id === `node/${r.node.name}`)!.macs;
  const eni = (e: Node['enis'][number]): Record<string, unknown> => ({
    mac: macs[e.name],
    address: e.address,
    subnet: e.subnet.cidr.text,
    device: e.index,
  });
  const config = {
    vpcCIDRs: topology.vpcCidrs.map((c) => c.text),
    primary: eni(r.node.enis[0]!),
    enis: r.node.enis.slice(1).map(eni),
    maxENI: Math.max(4, r.node.enis.length),
    initSysctls: true,
  };
  const env = Object.entries(vpcCniEnv(spec, r.dir)).map(([k, v]) => `${k}=${v}`);
  let out: string;
  try {
    out = (await host.run(['env', ...env, build.file('bin/vpc-cni-node')], { input: JSON.stringify(config) }))
      .stdout;
  } catch (e) {
    const why = e instanceof CommandError ? e.stderr.trim() || `exit ${e.code}` : (e as Error).message;
    throw new CniStageError(
      `node ${r.node.name}: ${r.label} node setup (SetupHostNetwork/SetupENINetwork) failed: ${why}` +
        `\n  last lines of ${join(r.dir, 'ipamd.log')}:\n${await lastLines(join(r.dir, 'ipamd.log'), 5)}`,
    );
  }
  // The topology's per-interface sysctls are what the node has when traffic flows (the image's
  // own values, as the emulation applies them after the CNI's).
  const entries = Object.entries(r.node.sysctls.interfaces).flatMap(([ifn, conf]) => confEntries(ifn, conf));
  if (entries.length > 0) await sysctl(lab.runner, host.netns, entries);
  const tables = new Map<number, number>([[0, 254]]);
  for (const e of (JSON.parse(out) as { enis: { device: number; table: number }[] }).enis)
    tables.set(e.device, e.table);
  return tables;
}

export function standinNode(topology: Topology, r: RealNode, tables: Map<number, number>): StandinNode {
  const spec = r.vpc!.spec;
  return {
    node: r.node.name,
    socket: join(r.dir, 'aws-node', 'ipamd.sock'),
    vpcCidrs: topology.vpcCidrs.map((c) => c.text),
    excludeSnatCidrs: spec.excludeSnatCidrs,
    externalSNAT: spec.externalSNAT,
    pods: Object.fromEntries(
      r.pods.map((p) => {
        const eni = r.node.enis.find((e) => e.name === p.eni)!;
        return [
          p.name,
          { address: p.address, device: eni.index, table: tables.get(eni.index)!, eni: eni.name },
        ];
      }),
    ),
  };
}

/** Waits for a line starting with `prefix` on the child's stdout. */
function waitReady(child: ChildProcess, prefix: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(
      () => reject(new CniStageError(`${what} not ready after ${READY_TIMEOUT_MS / 1000} s: ${err.trim()}`)),
      READY_TIMEOUT_MS,
    );
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.split('\n').some((l) => l.startsWith(prefix))) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new CniStageError(`${what} exited with ${code} before it was ready: ${err.trim()}`));
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new CniStageError(`${what} could not start: ${e.message}`));
    });
  });
}

/** Starts a long-lived process for the lab; a lab left up (`lab up`) keeps it until `lab down`. */
async function startProcess(
  lab: Lab,
  hostId: string,
  argv: string[],
  readyPrefix: string,
  what: string,
  log: string,
): Promise<void> {
  // A lab `lab up` leaves up (building now, persistent once complete) keeps it until `lab down`.
  const persistent = lab.state.phase === 'building' || lab.state.pid === 0;
  const child = lab.host(hostId).spawn(argv);
  lab.defer(what, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  });
  const lines: string[] = [];
  child.stdout?.on('data', (d: Buffer) => lines.push(d.toString()));
  await waitReady(child, readyPrefix, what);
  if (persistent) {
    release(child);
    child.unref();
    child.stdout?.destroy();
    child.stderr?.destroy();
    child.stdin?.destroy();
  } else {
    // The request log goes to a file in the run's directory (evidence when an ADD fails).
    child.stdout?.on('data', (d: Buffer) => void writeFile(log, d, { flag: 'a' }).catch(() => undefined));
    await writeFile(log, lines.join(''));
  }
}

export async function startStandin(lab: Lab, base: string, name: string, cfg: StandinConfig): Promise<void> {
  const file = join(base, `${name}.json`);
  await writeFile(file, JSON.stringify(cfg, null, 2));
  await startProcess(
    lab,
    'fabric',
    [process.execPath, join(DIST_DIR, 'lib/cni/real/ipamd-standin.js'), file],
    'ready',
    `ipamd stand-in for ${cfg.nodes.map((n) => `node ${n.node}`).join(', ')}`,
    join(base, `${name}.log`),
  );
}

async function startForwarder(lab: Lab, r: RealNode): Promise<void> {
  await startProcess(
    lab,
    `node/${r.node.name}`,
    [
      r.vpc!.build.file('bin/cni-exec'),
      'forward',
      '--listen',
      '127.0.0.1:50051',
      '--unix',
      join(r.dir, 'aws-node', 'ipamd.sock'),
    ],
    'listening',
    `ipamd forwarder (TCP 127.0.0.1:50051) in node ${r.node.name}`,
    join(r.dir, 'forwarder.log'),
  );
}

/** A generic conflist: every plugin is in binDir and speaks the list's version (exit 2 otherwise). */
async function checkPlugins(r: RealNode): Promise<void> {
  const problems = (await r.runtime.validateNetworkList(r.conflist)).map(([i, message]) => ({
    path: `nodes[${r.index}].cni.conflist.plugins[${i}].type`,
    value: JSON.stringify(r.conflist.plugins[i]!.type),
    message: `node ${r.node.name}: ${message}`,
  }));
  if (problems.length > 0) throw new ValidationError('topology', problems);
}

async function addPod(lab: Lab, r: RealNode, pod: Pod): Promise<void> {
  const rt = podRuntimeConf(lab, pod);
  let result: unknown;
  try {
    result = await r.runtime.addNetworkList(r.conflist, rt);
  } catch (e) {
    throw await podError(r, pod, 'ADD', e);
  }
  const ips = ((result as { ips?: { address?: string }[] } | undefined)?.ips ?? []).map(
    (i) => String(i.address).split('/')[0],
  );
  if (!ips.includes(pod.address))
    throw new CniStageError(
      `node ${r.node.name}, pod ${pod.name}: ${r.label} gave the pod ${ips.join(', ') || 'no address'}, ` +
        `but the topology says ${pod.address}`,
    );
}

async function podError(r: RealNode, pod: Pod, command: string, e: unknown): Promise<Error> {
  if (e instanceof PluginNotFoundError)
    return new ValidationError('topology', [
      {
        path: r.cni.profile === 'plugin' ? `nodes[${r.index}].cni.binDir` : `nodes[${r.index}].cni.build`,
        value: JSON.stringify(e.binDirs.join(':')),
        message: `node ${r.node.name}: ${e.message}`,
      },
    ]);
  const msg = e instanceof CniError ? e.message : (e as Error).message;
  const log = r.vpc ? await lastLines(join(r.dir, 'plugin.log'), 3) : '';
  return new CniStageError(
    `node ${r.node.name}, pod ${pod.name}: ${r.label} ${command} failed: ${msg}` +
      (log ? `\n  last lines of ${join(r.dir, 'plugin.log')}:\n${log}` : ''),
  );
}
