import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { ValidationError } from '../errors.js';
import { DEFAULT_KIND_CONFIG, kindConfig, loadKindConfig, renderKindConfig } from './config.js';

const base = `kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking:
  disableDefaultCNI: true
nodes:
  - role: control-plane
  - role: worker
`;

function problems(f: () => unknown): string[] {
  try {
    f();
  } catch (e) {
    expect(e).to.be.instanceOf(ValidationError);
    return (e as ValidationError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  throw new Error('expected a ValidationError');
}

describe('kind: cluster configuration', () => {
  it('kind-config/cluster.yaml: no default CNI, iptables, the two settings this machine forces, 3 nodes', async () => {
    const c = await loadKindConfig(undefined, { name: 'rp-abc123' });
    expect(c.name).to.equal('rp-abc123');
    expect(c.networking).to.include({
      disableDefaultCNI: true,
      kubeProxyMode: 'iptables',
      podSubnet: '10.244.0.0/16',
    });
    expect(c.nodes.map((n) => n.role)).to.deep.equal(['control-plane', 'worker', 'worker']);
    expect(c.kubeadmConfigPatches!.join('\n')).to.match(/kind: KubeletConfiguration\s+failCgroupV1: false/);
    expect(c.containerdConfigPatches!.join('\n')).to.match(/restrict_oom_score_adj = true/);
    expect(await readFile(DEFAULT_KIND_CONFIG, 'utf8')).to.not.match(/^name:/m);
  });

  it('sets the name, the number of workers and the proxy mode, and renders YAML kind reads back', () => {
    const c = kindConfig(base, 'f', { name: 'two', workers: 1, kubeProxyMode: 'nftables' });
    const back = parse(renderKindConfig(c)) as typeof c;
    expect(back.name).to.equal('two');
    expect(back.nodes).to.deep.equal([{ role: 'control-plane' }, { role: 'worker' }]);
    expect(back.networking.kubeProxyMode).to.equal('nftables');
    expect(kindConfig(base, 'f', { name: 'one', workers: 0 }).nodes).to.deep.equal([
      { role: 'control-plane' },
    ]);
  });

  it('reports every problem with its path: default CNI, proxy mode, roles, images, control planes, name', () => {
    const bad = `kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking:
  disableDefaultCNI: false
  kubeProxyMode: ipvs
  ipFamily: dual
nodes:
  - role: control-plane
  - role: control-plane
  - role: master
  - role: worker
    image: kindest/node:v1.35.0
`;
    expect(problems(() => kindConfig(bad, 'bad.yaml', { name: 'Bad_Name' }))).to.deep.equal([
      'networking.disableDefaultCNI: must be true: returnpath installs the CNI under test (kindnetd is not built)',
      'networking.kubeProxyMode: must be iptables or nftables',
      'networking.ipFamily: only ipv4 is supported',
      'nodes[2].role: must be control-plane or worker',
      'nodes[3].image: the node image is chosen by returnpath (--image)',
      'nodes: exactly one control-plane node is supported',
      'name: a cluster name is 1-31 lowercase letters, digits and dashes, starting with a letter or digit',
    ]);
    expect(problems(() => kindConfig('kind: Pod\n', 'x', { name: 'a' }))).to.include('kind: must be Cluster');
    expect(problems(() => kindConfig(base, 'x', { name: 'a', workers: 12 }))).to.deep.equal([
      'workers: must be an integer from 0 to 9',
    ]);
  });
});
