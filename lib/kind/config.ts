/**
 * The kind cluster configuration returnpath hands to `kind create cluster`: kind-config/cluster.yaml
 * (or a user's file) with the cluster's name and, when asked, the number of workers. It must keep
 * kind's default CNI off (returnpath installs the CNI under test) and use kube-proxy in iptables
 * or nftables mode; anything else is reported with its path, value and what is allowed.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { ValidationError, type ValidationProblem } from '../errors.js';

export const DEFAULT_KIND_CONFIG = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../../kind-config/cluster.yaml',
);

export type KubeProxyMode = 'iptables' | 'nftables';

export interface KindClusterConfig {
  kind: 'Cluster';
  apiVersion: 'kind.x-k8s.io/v1alpha4';
  name?: string;
  networking: {
    disableDefaultCNI: boolean;
    kubeProxyMode?: string;
    podSubnet?: string;
    serviceSubnet?: string;
    [k: string]: unknown;
  };
  nodes: { role: 'control-plane' | 'worker'; [k: string]: unknown }[];
  kubeadmConfigPatches?: string[];
  containerdConfigPatches?: string[];
  [k: string]: unknown;
}

export interface ConfigOverrides {
  name: string;
  /** Replace the node list with one control plane and this many workers. */
  workers?: number;
  kubeProxyMode?: KubeProxyMode;
}

/** Parses and checks a kind configuration, then applies the overrides. */
export function kindConfig(text: string, source: string, o: ConfigOverrides): KindClusterConfig {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new ValidationError(source, [
      { path: '', value: source, message: `not YAML: ${(e as Error).message.split('\n')[0]}` },
    ]);
  }
  const problems: ValidationProblem[] = [];
  const c = (doc ?? {}) as Partial<KindClusterConfig>;
  if (c.kind !== 'Cluster')
    problems.push({ path: 'kind', value: String(c.kind), message: 'must be Cluster' });
  if (c.apiVersion !== 'kind.x-k8s.io/v1alpha4')
    problems.push({
      path: 'apiVersion',
      value: String(c.apiVersion),
      message: 'must be kind.x-k8s.io/v1alpha4',
    });
  const net = (c.networking ?? {}) as KindClusterConfig['networking'];
  if (net.disableDefaultCNI !== true)
    problems.push({
      path: 'networking.disableDefaultCNI',
      value: String(net.disableDefaultCNI),
      message: 'must be true: returnpath installs the CNI under test (kindnetd is not built)',
    });
  const mode = o.kubeProxyMode ?? net.kubeProxyMode ?? 'iptables';
  if (mode !== 'iptables' && mode !== 'nftables')
    problems.push({
      path: 'networking.kubeProxyMode',
      value: String(mode),
      message: 'must be iptables or nftables',
    });
  if (net.ipFamily !== undefined && net.ipFamily !== 'ipv4')
    problems.push({
      path: 'networking.ipFamily',
      value: String(net.ipFamily),
      message: 'only ipv4 is supported',
    });
  const nodes = Array.isArray(c.nodes) ? c.nodes : [{ role: 'control-plane' as const }];
  nodes.forEach((n, i) => {
    if (n?.role !== 'control-plane' && n?.role !== 'worker')
      problems.push({
        path: `nodes[${i}].role`,
        value: String(n?.role),
        message: 'must be control-plane or worker',
      });
    if (n && 'image' in n)
      problems.push({
        path: `nodes[${i}].image`,
        value: String(n.image),
        message: 'the node image is chosen by returnpath (--image)',
      });
  });
  if (nodes.filter((n) => n?.role === 'control-plane').length !== 1)
    problems.push({
      path: 'nodes',
      value: `${nodes.length} nodes`,
      message: 'exactly one control-plane node is supported',
    });
  if (o.workers !== undefined && (!Number.isInteger(o.workers) || o.workers < 0 || o.workers > 9))
    problems.push({ path: 'workers', value: String(o.workers), message: 'must be an integer from 0 to 9' });
  if (!/^[a-z0-9][a-z0-9-]{0,30}$/.test(o.name))
    problems.push({
      path: 'name',
      value: o.name,
      message: 'a cluster name is 1-31 lowercase letters, digits and dashes, starting with a letter or digit',
    });
  if (problems.length) throw new ValidationError(source, problems);

  const out: KindClusterConfig = {
    ...(c as KindClusterConfig),
    name: o.name,
    networking: { ...net, disableDefaultCNI: true, kubeProxyMode: mode },
    nodes:
      o.workers === undefined
        ? nodes
        : [
            { role: 'control-plane' },
            ...Array.from({ length: o.workers }, () => ({ role: 'worker' as const })),
          ],
  };
  return out;
}

export async function loadKindConfig(
  path: string | undefined,
  o: ConfigOverrides,
): Promise<KindClusterConfig> {
  const file = path ?? DEFAULT_KIND_CONFIG;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ValidationError(file, [
      { path: '', value: file, message: `cannot read: ${(e as Error).message}` },
    ]);
  }
  return kindConfig(text, file, o);
}

export function renderKindConfig(c: KindClusterConfig): string {
  return stringify(c, { lineWidth: 0 });
}
