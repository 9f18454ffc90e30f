import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { parseTopology, type Topology } from '../model/topology.js';
import { CONTROL_PLANE_SERVICE_RANGE } from './control-plane.js';
import {
  clusterObjects,
  instanceId,
  OWNER_LABEL,
  podNamespaces,
  regionOfZone,
  serviceCidrName,
  serviceSelectorLabel,
} from './objects.js';
import { controlPlaneProblems } from './stage.js';

const example = async (name: string): Promise<Topology> =>
  parseTopology(await readFile(new URL(`../../../examples/${name}.yaml`, import.meta.url), 'utf8'));

const now = new Date('2026-01-01T00:00:00Z');

describe('Kubernetes objects of a topology', () => {
  it('registers every node with eth0 first, its zone and region, and an AWS provider id', async () => {
    const t = await example('seed-003-baseline');
    const o = clusterObjects(t, { owner: 'abc123', now });
    const a = o.nodes.find((n) => n.metadata?.name === 'node-a')!;
    expect(a.status?.addresses?.[0]).to.deep.equal({ type: 'InternalIP', address: '10.0.1.10' });
    expect(a.status?.addresses?.map((x) => x.type)).to.include('Hostname');
    expect(a.metadata?.labels).to.include({ [OWNER_LABEL]: 'abc123', 'topology.kubernetes.io/zone': 'az-a' });
    expect(a.spec?.providerID).to.equal(`aws:///az-a/${instanceId('abc123', 'node-a')}`);
    const c = o.nodes.find((n) => n.metadata?.name === 'node-c')!;
    expect(c.status?.addresses).to.deep.include({ type: 'ExternalIP', address: '198.51.100.12' });
    expect(c.status?.conditions?.[0]).to.include({ type: 'Ready', status: 'True' });
  });

  it('derives the region from AWS zone names only', () => {
    expect(regionOfZone('eu-west-1a')).to.equal('eu-west-1');
    expect(regionOfZone('us-gov-west-1b')).to.equal('us-gov-west-1');
    expect(regionOfZone('az-a')).to.equal(undefined);
  });

  it("creates pods in their Services' namespaces, labelled for exactly the Services they back", async () => {
    const t = await example('seed-003-baseline');
    const o = clusterObjects(t, { owner: 'abc123', now });
    const web1 = o.pods.find((p) => p.pod.metadata?.name === 'web-1')!;
    expect(web1.pod.metadata?.namespace).to.equal('demo');
    expect(web1.pod.spec?.nodeName).to.equal('node-a');
    expect(web1.pod.metadata?.labels).to.include({
      'returnpath.io/svc-web': 'true',
      'returnpath.io/svc-web-local': 'true',
    });
    const web2 = o.pods.find((p) => p.pod.metadata?.name === 'web-2')!;
    expect(web2.pod.metadata?.labels).to.not.have.property('returnpath.io/svc-web-local');
    const client = o.pods.find((p) => p.pod.metadata?.name === 'client-a')!;
    expect(client.pod.metadata?.namespace).to.equal('default');
    expect(
      podNamespaces(
        t,
        t.pods.find((p) => p.name === 'client-a')!,
      ),
    ).to.deep.equal(['default']);
    expect(o.namespaces.map((n) => n.metadata?.name)).to.deep.equal(['default', 'demo']);
  });

  it('reports each pod Running and Ready on its node, as a kubelet', async () => {
    const t = await example('seed-003-baseline');
    const web2 = clusterObjects(t, { owner: 'x', now }).pods.find((p) => p.pod.metadata?.name === 'web-2')!;
    expect(web2.status).to.include({ phase: 'Running', podIP: '10.0.2.60', hostIP: '10.0.2.10' });
    expect(web2.status.conditions?.filter((c) => c.status === 'True').map((c) => c.type)).to.include.members([
      'Ready',
      'ContainersReady',
    ]);
    expect(web2.status.containerStatuses?.[0]).to.include({ ready: true, started: true });
  });

  it('writes Services with their ClusterIP, node ports, policy, health check port and a selector', async () => {
    const t = await example('seed-003-baseline');
    const svc = clusterObjects(t, { owner: 'x', now }).services.find(
      (s) => s.service.metadata?.name === 'web-local',
    )!;
    expect(svc.service.spec).to.deep.include({
      type: 'LoadBalancer',
      clusterIP: '172.20.10.11',
      externalTrafficPolicy: 'Local',
      healthCheckNodePort: 32081,
      selector: { [serviceSelectorLabel({ name: 'web-local' })]: 'true' },
    });
    expect(svc.service.spec?.ports).to.deep.equal([
      { name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 30081 },
    ]);
  });

  it("writes an NLB's DNS name (no rule on the nodes) and loadBalancerIPs as IPs into the load balancer status", async () => {
    const hairpin = clusterObjects(await example('seed-001-hairpin'), {
      owner: 'x',
      now,
      nlbHostname: (lb) => `${lb}.example`,
    });
    expect(hairpin.services[0]!.status).to.deep.equal({
      loadBalancer: { ingress: [{ hostname: 'nginx-nlb.example' }] },
    });
    const seed002 = clusterObjects(await example('seed-002-lb-snat-policy-routing'), { owner: 'x', now });
    expect(seed002.services[0]!.status?.loadBalancer?.ingress).to.deep.equal([
      { ip: '10.12.115.101', ipMode: 'VIP' },
    ]);
  });

  it("adds a ServiceCIDR for the topology's Service range unless the apiserver's own range holds it", async () => {
    const t = await example('seed-003-baseline');
    expect(
      clusterObjects(t, { owner: 'x', apiserverServiceRange: CONTROL_PLANE_SERVICE_RANGE }).serviceCIDRs,
    ).to.deep.equal([
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'ServiceCIDR',
        metadata: { name: serviceCidrName('172.20.0.0/16'), labels: { [OWNER_LABEL]: 'x' } },
        spec: { cidrs: ['172.20.0.0/16'] },
      },
    ]);
    expect(
      clusterObjects(t, { owner: 'x', apiserverServiceRange: '172.16.0.0/12' }).serviceCIDRs,
    ).to.deep.equal([]);
  });

  it("rejects a topology that uses the lab apiserver's own Service range, naming the field", async () => {
    const t = await example('seed-003-baseline');
    expect(controlPlaneProblems(t)).to.deep.equal([]);
    const clash = { ...t, internetClients: [{ name: 'x', address: '198.19.255.241' }] };
    expect(controlPlaneProblems(clash).map((p) => p.path)).to.deep.equal(['internet.clients[0].address']);
  });
});
