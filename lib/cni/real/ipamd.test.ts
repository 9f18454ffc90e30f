import { expect } from 'chai';
import { StandinState, UNKNOWN_POD, type StandinNode } from './ipamd.js';
import { summarizeRules } from './notes.js';
import { vpcCniEnv } from './stage.js';
import { validateTopology, type VpcCniSpec } from '../../model/topology.js';
import { baseSpec } from '../../model/topology.test.js';

const node: StandinNode = {
  node: 'node-1',
  socket: '/run/x/ipamd.sock',
  vpcCidrs: ['10.0.0.0/16'],
  excludeSnatCidrs: ['192.168.0.0/16'],
  externalSNAT: false,
  pods: { web: { address: '10.0.1.50', device: 1, table: 2, eni: 'eth1' } },
};
const add = {
  K8S_POD_NAME: 'web',
  K8S_POD_NAMESPACE: 'default',
  ContainerID: 'c1',
  IfName: 'eth0',
  NetworkName: 'aws-cni',
};

describe('ipamd stand-in answers', () => {
  it('v1.8+: IPAllocationMetadata with device and route table; VPC CIDRs plus SNAT exclusions', () => {
    const s = new StandinState(node, 'current');
    expect(s.add(add)).to.deep.equal({
      reply: {
        Success: true,
        IPAllocationMetadata: [{ IPv4Addr: '10.0.1.50', DeviceNumber: 1, RouteTableId: 2 }],
        UseExternalSNAT: false,
        VPCv4CIDRs: ['10.0.0.0/16', '192.168.0.0/16'],
      },
    });
    expect(s.del(add)).to.deep.equal({
      reply: {
        Success: true,
        IPAllocationMetadata: [{ IPv4Addr: '10.0.1.50', DeviceNumber: 1, RouteTableId: 2 }],
      },
    });
    // A second DEL: ipamd's "unknown pod", which the plugin takes as done.
    expect(s.del(add)).to.deep.equal({ code: 'NOT_FOUND', error: UNKNOWN_POD });
  });

  it('v1.7: IPv4Addr, DeviceNumber and VPCcidrs; external SNAT drops the exclusions', () => {
    const s = new StandinState({ ...node, externalSNAT: true }, 'legacy');
    expect(s.add(add)).to.deep.equal({
      reply: {
        Success: true,
        IPv4Addr: '10.0.1.50',
        DeviceNumber: 1,
        UseExternalSNAT: true,
        VPCcidrs: ['10.0.0.0/16'],
      },
    });
  });

  it('names the node and the pods it knows when asked for another pod', () => {
    const s = new StandinState(node, 'current');
    expect(s.add({ ...add, K8S_POD_NAME: 'ghost' })).to.deep.equal({
      code: 'NOT_FOUND',
      error:
        'ipamd stand-in on node node-1: the topology has no pod "default/ghost" on this node (pods here: default/web)',
    });
    expect(s.add({ ...add, ContainerID: '' })).to.deep.include({ code: 'INVALID_ARGUMENT' });
  });

  it("answers a cluster run's pods in the run's namespace only", () => {
    const s = new StandinState({ ...node, namespace: 'rp-run1' }, 'current');
    expect(s.add({ ...add, K8S_POD_NAMESPACE: 'rp-run1' })).to.have.property('reply');
    expect(s.add({ ...add, ContainerID: 'c2', K8S_POD_NAMESPACE: 'default' })).to.deep.equal({
      code: 'NOT_FOUND',
      error:
        'ipamd stand-in on node node-1: the topology has no pod "default/web" on this node (pods here: rp-run1/web)',
    });
  });
});

describe('real VPC CNI: options and notes', () => {
  it("maps the profile's options to the CNI's own environment variables", () => {
    const s = baseSpec();
    s.defaults = {
      cni: {
        profile: 'vpc-cni',
        externalSNAT: true,
        randomizeSNAT: 'hashrandom',
        excludeSnatCidrs: ['192.168.0.0/16', '172.16.0.0/12'],
        nodePortSupport: false,
        connmark: 0x100,
        vethPrefix: 'abc',
        externalServiceCidrs: ['100.64.0.0/10'],
      },
    };
    const spec = validateTopology(s).nodes[0]!.cni as VpcCniSpec;
    expect(vpcCniEnv(spec, '/run/x')).to.deep.equal({
      AWS_VPC_K8S_CNI_EXTERNALSNAT: 'true',
      AWS_VPC_K8S_CNI_RANDOMIZESNAT: 'hashrandom',
      AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS: '192.168.0.0/16,172.16.0.0/12',
      AWS_VPC_CNI_NODE_PORT_SUPPORT: 'false',
      AWS_VPC_K8S_CNI_CONNMARK: '0x100',
      AWS_VPC_K8S_CNI_VETHPREFIX: 'abc',
      AWS_EXTERNAL_SERVICE_CIDRS: '100.64.0.0/10',
      AWS_VPC_ENI_MTU: '1500',
      AWS_VPC_K8S_CNI_LOG_FILE: '/run/x/ipamd.log',
      AWS_VPC_K8S_CNI_LOGLEVEL: 'DEBUG',
    });
  });

  it('summarizes the policy rules a real CNI wrote, without the kernel defaults', () => {
    expect(
      summarizeRules(
        [
          '0:\tfrom all lookup local',
          '512:\tfrom all to 10.0.1.50 lookup main',
          '1536:\tfrom 10.0.1.50 to 10.0.0.0/16 lookup 2',
          '32766:\tfrom all lookup main',
          '32767:\tfrom all lookup default',
        ].join('\n'),
      ),
    ).to.deep.equal(['512 to 10.0.1.50 lookup main', '1536 from 10.0.1.50 to 10.0.0.0/16 lookup 2']);
  });
});
