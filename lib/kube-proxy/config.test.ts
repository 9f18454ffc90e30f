import { expect } from 'chai';
import { parse } from 'yaml';
import { kubeProxyConfiguration, renderKubeProxyConfiguration } from './config.js';

const base = {
  nodeName: 'node-a',
  kubeconfig: '/x/kubeconfig',
  mode: 'iptables',
  clusterCIDR: '10.0.0.0/16',
} as const;

describe('real kube-proxy configuration', () => {
  it("is EKS's add-on configuration: no clusterCIDR (no local-traffic detector) by default", () => {
    const c = kubeProxyConfiguration({ ...base, detectLocal: 'none' });
    expect(c).to.include({
      clusterCIDR: '',
      mode: 'iptables',
      healthzBindAddress: '0.0.0.0:10256',
      metricsBindAddress: '0.0.0.0:10249',
      hostnameOverride: 'node-a',
      oomScoreAdj: -998,
    });
    expect(c).to.not.have.property('detectLocalMode');
    expect(c['iptables']).to.include({ masqueradeBit: 14, syncPeriod: '30s', masqueradeAll: false });
    expect(c['nodePortAddresses']).to.equal(null);
  });

  it('sets detectLocalMode ClusterCIDR with the cluster CIDR for the other detector', () => {
    expect(kubeProxyConfiguration({ ...base, detectLocal: 'clusterCIDR' })).to.include({
      clusterCIDR: '10.0.0.0/16',
      detectLocalMode: 'ClusterCIDR',
    });
  });

  it('changes no sysctl: conntrack values 0 and no localhost node ports', () => {
    const c = parse(renderKubeProxyConfiguration({ ...base, detectLocal: 'none', mode: 'nftables' }));
    expect(c.conntrack).to.deep.equal({
      maxPerCore: 0,
      min: 0,
      tcpCloseWaitTimeout: '0s',
      tcpEstablishedTimeout: '0s',
      udpStreamTimeout: '0s',
      udpTimeout: '0s',
    });
    expect(c.iptables.localhostNodePorts).to.equal(false);
    expect(c.mode).to.equal('nftables');
    expect(c.kind).to.equal('KubeProxyConfiguration');
  });
});
