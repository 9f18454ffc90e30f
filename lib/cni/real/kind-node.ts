/**
 * The real VPC CNI on kind nodes the lab adopted (`run --kind`): the lab stage that makes a kind
 * node an EKS node of the topology, as the aws-node DaemonSet does on EC2, except that ipamd is
 * returnpath's stand-in (ipamd asks EC2 and the instance metadata service):
 *
 * - the node helper runs the module's own SetupHostNetwork / SetupENINetwork in the node's network
 *   namespace, with the topology's ENIs (found by MAC) and the profile's options;
 * - the ipamd stand-in (in the fabric namespace) listens on the node's own
 *   `/run/aws-node/ipamd.sock`, bound through the node container's root (`/proc/PID/root`), where
 *   the plugin dials it;
 * - `aws-cni` and `egress-cni` go into the node's `/opt/cni/bin`, EKS's conflist into
 *   `/etc/cni/net.d` (kind's stand-in CNI's conflist removed): kind's kubelet and containerd run
 *   the plugin for every pod, and the stand-in hands each pod the topology's address by its name
 *   (K8S_POD_NAME).
 *
 * The files live in the node container (removed with the cluster); the stand-in is the lab's and
 * stops with it. Only the current generation is supported: v1.7 plugins dial TCP 127.0.0.1:50051.
 */
import { chmod, copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Lab, LabStage } from '../../lab/lab.js';
import { runDir } from '../../lab/state.js';
import { realCni, type Node, type Topology } from '../../model/topology.js';
import { describeCni } from '../index.js';
import { STANDIN_CONFLIST_PATH } from '../../kind/standin-cni.js';
import {
  allOrFirstError,
  checkTables,
  CniStageError,
  expectedTables,
  LAB_MTU,
  prepareNode,
  setUpVpcNode,
  standinNode,
  startStandin,
  type RealNode,
} from './stage.js';

/** Where the plugin logs inside the node (as on EKS). */
export const NODE_LOG_DIR = '/var/log/aws-routed-eni';
export const NODE_CONFLIST = '/etc/cni/net.d/10-aws.conflist';

/** Why a node cannot run on kind with the real VPC CNI, or undefined. */
export function kindCniProblem(node: Node): string | undefined {
  if (node.cni.profile === 'none') return undefined;
  if (node.cni.profile !== 'vpc-cni')
    return `node ${node.name}: CNI ${describeCni(node.cni)}; a kind node runs the real VPC CNI (current generation) only`;
  return undefined;
}

/** EKS's 10-aws.conflist for a kind node (without portmap: no hostPorts), logging inside the node. */
export function kindConflist(node: Node, vethPrefix: string): Record<string, unknown> {
  return {
    cniVersion: '0.4.0',
    name: 'aws-cni',
    disableCheck: true,
    plugins: [
      {
        type: 'aws-cni',
        name: 'aws-cni',
        vethPrefix,
        mtu: LAB_MTU,
        pluginLogFile: `${NODE_LOG_DIR}/plugin.log`,
        pluginLogLevel: 'DEBUG',
      },
      {
        type: 'egress-cni',
        name: 'egress-cni',
        mtu: LAB_MTU,
        enabled: 'false',
        nodeIP: node.address,
        pluginLogFile: `${NODE_LOG_DIR}/egress-v6-plugin.log`,
        pluginLogLevel: 'DEBUG',
      },
    ],
  };
}

/**
 * The stage for the topology's VPC CNI nodes; `roots` maps a node name to its container's root
 * as seen from here (`/proc/PID/root`).
 */
export function kindVpcCniStage(
  topology: Topology,
  roots: ReadonlyMap<string, string>,
  podNamespace: string,
): LabStage {
  const nodes = topology.nodes.filter((n) => realCni(n.cni) && roots.has(n.name));
  return {
    name: `${[...new Set(nodes.map((n) => describeCni(n.cni)))].join(', ')} in the kind nodes`,
    setUp: (lab) => setUp(lab, topology, nodes, roots, podNamespace),
  };
}

async function setUp(
  lab: Lab,
  topology: Topology,
  nodes: readonly Node[],
  roots: ReadonlyMap<string, string>,
  podNamespace: string,
): Promise<void> {
  const problems = nodes.map(kindCniProblem).filter((p): p is string => p !== undefined);
  if (problems.length > 0) throw new CniStageError(problems.join('; '));
  const base = join(runDir(lab.runId), 'cni');
  await mkdir(base, { recursive: true });
  lab.defer(`real CNI files of run ${lab.runId}`, () => rm(base, { recursive: true, force: true }));
  const real = await Promise.all(nodes.map((node) => prepareNode(lab, topology, node, base)));
  const root = (r: RealNode): string => roots.get(r.node.name)!;
  // /run, not /var/run: a symlink to /run in the node, which through /proc/PID/root would be ours.
  for (const r of real) {
    await mkdir(join(root(r), 'run/aws-node'), { recursive: true });
    await mkdir(join(root(r), NODE_LOG_DIR.slice(1)), { recursive: true });
  }
  const expected = new Map(real.map((r) => [r.node.name, expectedTables(r.node)]));
  const tables = new Map<string, Map<number, number>>();
  await allOrFirstError(
    real.map(async (r) => {
      const got = await setUpVpcNode(lab, topology, r);
      checkTables(r, got, expected.get(r.node.name)!);
      tables.set(r.node.name, got);
    }),
  );
  await startStandin(lab, base, 'ipamd-kind', {
    proto: real[0]!.vpc!.build.file('rpc/rpc.proto'),
    nodes: real.map((r) => ({
      ...standinNode(topology, r, tables.get(r.node.name)!),
      socket: join(root(r), 'run/aws-node/ipamd.sock'),
      namespace: podNamespace,
    })),
  });
  for (const r of real) {
    const bin = join(root(r), 'opt/cni/bin');
    for (const plugin of ['aws-cni', 'egress-cni'] as const) {
      await copyFile(r.vpc!.build.file(`bin/${plugin}`), join(bin, plugin));
      await chmod(join(bin, plugin), 0o755);
    }
    await writeFile(
      join(root(r), NODE_CONFLIST.slice(1)),
      JSON.stringify(kindConflist(r.node, r.vpc!.spec.vethPrefix), null, 2) + '\n',
    );
    await rm(join(root(r), STANDIN_CONFLIST_PATH.slice(1)), { force: true });
  }
}
