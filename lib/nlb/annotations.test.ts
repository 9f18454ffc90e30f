import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { V1EndpointSlice, V1Node, V1Service } from '@kubernetes/client-node';
import { expect } from 'chai';
import { parse as parseYaml, stringify } from 'yaml';
import { SUITES } from '../../suites/catalog.js';
import { ValidationError } from '../errors.js';
import { nodeObject } from '../kube/objects.js';
import { parseTopology, validateTopology, type LoadBalancer, type Topology } from '../model/topology.js';
import {
  ANNOTATION,
  loadBalancerFromService,
  nlbRequest,
  serviceAnnotations,
  targetsFor,
  type ClusterView,
} from './annotations.js';
import { claimPlacement } from './pool.js';

const repo = new URL('../../../', import.meta.url).pathname;
const example = async (name: string): Promise<Topology> =>
  parseTopology(await readFile(`${repo}examples/${name}.yaml`, 'utf8'));

async function golden(name: string, actual: string): Promise<void> {
  const file = `${repo}lib/nlb/testdata/${name}.golden.yaml`;
  if (process.env['UPDATE_GOLDEN']) {
    await mkdir(`${repo}lib/nlb/testdata`, { recursive: true });
    await writeFile(file, actual);
  }
  const expected = await readFile(file, 'utf8');
  expect(actual).to.equal(expected, `${file} differs; rerun with UPDATE_GOLDEN=1 to accept`);
}

/** The cluster a topology stands for: its Nodes, and EndpointSlices as the controller publishes them. */
function clusterOf(t: Topology, svcId: string): ClusterView {
  const svc = t.services.find((s) => `${s.namespace}/${s.name}` === svcId)!;
  const nodeOf = new Map(t.nodes.map((n) => [n.name, n]));
  const slice: V1EndpointSlice = {
    addressType: 'IPv4',
    metadata: { name: `${svc.name}-x`, namespace: svc.namespace },
    ports: svc.ports.map((p) => ({ ...(p.name && { name: p.name }), port: p.targetPort, protocol: 'TCP' })),
    endpoints: svc.endpoints.map((p) => ({
      addresses: [p.address],
      conditions: { ready: true },
      nodeName: p.node,
      zone: nodeOf.get(p.node)!.zone,
      targetRef: { kind: 'Pod', name: p.name, namespace: svc.namespace },
    })),
  };
  return { nodes: t.nodes.map((n) => nodeObject(n, { owner: 'test' })), endpointSlices: [slice] };
}

/** What the round trip compares: everything but the names the controller chooses. */
function comparable(lb: LoadBalancer): unknown {
  return {
    name: lb.name,
    scheme: lb.scheme,
    crossZone: lb.crossZone,
    nodes: lb.nodes,
    hashing: lb.hashing,
    listeners: lb.listeners
      .map((l) => ({
        port: l.port,
        idle: l.idleTimeoutSeconds,
        targetType: l.targetGroup.targetType,
        preserve: l.targetGroup.preserveClientIp,
        service: l.targetGroup.service,
        hc: {
          ...JSON.parse(JSON.stringify(l.targetGroup.healthCheck)),
          path: l.targetGroup.healthCheck.protocol === 'TCP' ? '-' : l.targetGroup.healthCheck.path,
        },
        targets: [...l.targetGroup.targets].sort((a, b) => a.id.localeCompare(b.id)),
      }))
      .sort((a, b) => a.port - b.port),
  };
}

function problemsOf(fn: () => unknown): { path: string; value: string; message: string }[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ValidationError) return [...e.problems];
    throw e;
  }
  expect.fail('expected a ValidationError');
}

describe('NLB: the AWS Load Balancer Controller annotations', () => {
  it('seed 001 as the Service a user writes (golden)', async () => {
    const t = await example('seed-001-hairpin');
    await golden('seed-001-hairpin', stringify(serviceAnnotations(t, t.loadBalancers[0]!)));
  });

  it('a Local-policy internet-facing NLB and an ip-target cross-zone NLB as Services (golden)', async () => {
    const doc = parseYaml(await readFile(`${repo}examples/seed-003-baseline.yaml`, 'utf8')) as Record<
      string,
      unknown
    >;
    doc['loadBalancers'] = [
      {
        name: 'nlb-local',
        scheme: 'internet-facing',
        nodes: [
          { zone: 'az-a', address: '10.0.1.100', publicAddress: '198.51.100.100' },
          { zone: 'az-b', address: '10.0.2.100', publicAddress: '198.51.100.101' },
        ],
        listeners: [{ port: 80, targetGroup: 'nodes' }],
        targetGroups: [{ name: 'nodes', targetType: 'instance', service: 'demo/web-local:http' }],
      },
      {
        name: 'nlb-ip',
        crossZone: true,
        nodes: [{ zone: 'az-a', address: '10.0.1.101' }],
        listeners: [{ port: 80, targetGroup: 'pods', idleTimeoutSeconds: 60 }],
        targetGroups: [
          {
            name: 'pods',
            targetType: 'ip',
            service: 'demo/web-local:http',
            preserveClientIp: true,
            healthCheck: { protocol: 'HTTP', path: '/ready', intervalSeconds: 5, timeoutSeconds: 2 },
          },
        ],
      },
    ];
    const t = validateTopology(doc);
    await golden(
      'seed-003-nlbs',
      t.loadBalancers.map((lb) => stringify(serviceAnnotations(t, lb))).join('---\n'),
    );
  });

  it('round trip: every expressible NLB of the suites cells comes back as it was; the rest name why not', () => {
    let expressed = 0;
    const refused = new Set<string>();
    for (const suite of SUITES)
      for (const cell of suite.cells) {
        const t = validateTopology(cell.topology, `${suite.id}/${cell.id}`);
        for (const lb of t.loadBalancers) {
          let svc: V1Service;
          try {
            svc = serviceAnnotations(t, lb);
          } catch (e) {
            expect(e).to.be.instanceOf(ValidationError);
            const p = (e as ValidationError).problems;
            expect(p.length).to.be.greaterThan(0);
            for (const x of p) expect(x.path).to.match(/^loadBalancers\[/);
            refused.add(`${suite.id}/${cell.id}: ${p.map((x) => x.message).join('; ')}`);
            continue;
          }
          const back = loadBalancerFromService(
            svc,
            lb,
            clusterOf(t, lb.listeners[0]!.targetGroup.service!.split(':')[0]!),
          );
          expect(comparable(back), `${suite.id}/${cell.id} ${lb.name}`).to.deep.equal(comparable(lb));
          expressed++;
        }
      }
    // Most NLBs of the suites are expressible; the count guards against a round trip that skips everything.
    expect(expressed, [...refused].join('\n')).to.be.greaterThan(10);
  });

  it("applies the controller's documented defaults", () => {
    const base: V1Service = {
      metadata: { name: 'web', namespace: 'demo', annotations: { [ANNOTATION.type]: 'external' } },
      spec: { type: 'LoadBalancer', ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }] },
    };
    const r = nlbRequest(base);
    expect(r).to.deep.include({
      scheme: 'internal',
      targetType: 'instance',
      preserveClientIp: true,
      crossZone: false,
    });
    expect(r.healthCheck).to.deep.equal({
      protocol: 'TCP',
      path: '/',
      intervalSeconds: 10,
      timeoutSeconds: 10,
      healthyThreshold: 3,
      unhealthyThreshold: 3,
    });
    const ip = nlbRequest({
      ...base,
      metadata: {
        ...base.metadata,
        annotations: { [ANNOTATION.type]: 'external', [ANNOTATION.targetType]: 'ip' },
      },
    });
    expect(ip.preserveClientIp).to.equal(false);
    const local = nlbRequest({
      ...base,
      spec: { ...base.spec, externalTrafficPolicy: 'Local', healthCheckNodePort: 32000 },
    });
    expect(local.healthCheck).to.deep.equal({
      protocol: 'HTTP',
      port: 32000,
      path: '/healthz',
      intervalSeconds: 10,
      timeoutSeconds: 6,
      healthyThreshold: 2,
      unhealthyThreshold: 2,
    });
    // loadBalancerClass alone is enough; nlb-ip means ip targets.
    expect(
      nlbRequest({
        ...base,
        metadata: { name: 'web' },
        spec: { ...base.spec, loadBalancerClass: 'service.k8s.aws/nlb' },
      }).targetType,
    ).to.equal('instance');
    expect(
      nlbRequest({ ...base, metadata: { name: 'web', annotations: { [ANNOTATION.type]: 'nlb-ip' } } })
        .targetType,
    ).to.equal('ip');
    // A deregistration delay is validated and reported as not enforced.
    const delay = (v: string): V1Service => ({
      ...base,
      metadata: {
        ...base.metadata,
        annotations: {
          [ANNOTATION.type]: 'external',
          [ANNOTATION.targetGroupAttributes]: `deregistration_delay.timeout_seconds=${v}`,
        },
      },
    });
    expect(nlbRequest(delay('30')).notEmulated).to.have.length(1);
    expect(problemsOf(() => nlbRequest(delay('4000')))[0]!.message).to.equal(
      'deregistration_delay.timeout_seconds is 0-3600',
    );
  });

  it('names the Service, the annotation, the value and what is allowed', () => {
    const svc: V1Service = {
      metadata: {
        name: 'web',
        namespace: 'demo',
        annotations: {
          [ANNOTATION.type]: 'external',
          [ANNOTATION.targetType]: 'pods',
          [ANNOTATION.scheme]: 'public',
          [ANNOTATION.targetGroupAttributes]: 'preserve_client_ip.enabled=maybe,stickiness.enabled=true',
          [ANNOTATION.hcInterval]: 'soon',
          'service.beta.kubernetes.io/aws-load-balancer-proxy-protocol': '*',
        },
      },
      spec: { type: 'LoadBalancer', ports: [{ port: 53, protocol: 'UDP', targetPort: 53 }] },
    };
    let err: ValidationError | undefined;
    try {
      nlbRequest(svc);
    } catch (e) {
      err = e as ValidationError;
    }
    expect(err).to.be.instanceOf(ValidationError);
    expect(err!.source).to.equal('Service demo/web');
    const by = (p: string): string =>
      err!.problems
        .filter((x) => x.path.includes(p))
        .map((x) => `${x.value}: ${x.message}`)
        .join(' | ');
    expect(by('nlb-target-type')).to.equal('pods: allowed: instance, ip');
    expect(by('-scheme')).to.equal('public: allowed: internal, internet-facing');
    expect(by('target-group-attributes')).to.include(
      'preserve_client_ip.enabled=maybe: preserve_client_ip.enabled is true or false',
    );
    expect(by('target-group-attributes')).to.include('stickiness.enabled=true: the lab emulates');
    expect(by('healthcheck-interval')).to.match(/^soon: seconds/);
    expect(by('proxy-protocol')).to.match(/^\*: is not emulated/);
    expect(by('spec.ports[0].protocol')).to.include('TCP listeners only');
  });

  it('a model the annotations cannot express is an error naming the part', async () => {
    const t = await example('seed-001-hairpin');
    const lb = t.loadBalancers[0]!;
    const tg = lb.listeners[0]!.targetGroup;
    const subset = {
      ...lb,
      listeners: [{ ...lb.listeners[0]!, targetGroup: { ...tg, targets: tg.targets.slice(0, 2) } }],
    };
    const p = problemsOf(() => serviceAnnotations(t, subset));
    expect(p.map((x) => x.path)).to.deep.equal(['loadBalancers[nginx-nlb].targetGroups[nodes].targets']);
    expect(p[0]!.message).to.match(/neither all nodes nor one zone's/);
    const moved = { ...lb, listeners: [{ ...lb.listeners[0]!, port: 8080 }] };
    expect(problemsOf(() => serviceAnnotations(t, moved))[0]!.message).to.match(
      /listens on the Service port \(80\)/,
    );
    const bare = { ...lb, listeners: [{ ...lb.listeners[0]!, targetGroup: { ...tg, service: undefined } }] };
    expect(problemsOf(() => serviceAnnotations(t, bare))[0]!.message).to.match(/a target group without one/);
  });

  it('instance targets: Ready nodes on the node port, by target-node-labels, without excluded nodes', async () => {
    const t = await example('seed-004-cross-zone');
    const nodes: V1Node[] = t.nodes.map((n) => nodeObject(n, { owner: 'x' }));
    nodes[0]!.status!.conditions = [{ type: 'Ready', status: 'False' }];
    nodes[1]!.metadata!.labels!['node.kubernetes.io/exclude-from-external-load-balancers'] = '';
    const req = nlbRequest({
      metadata: { name: 's', annotations: { [ANNOTATION.type]: 'external' } },
      spec: { type: 'LoadBalancer', ports: [{ port: 80, targetPort: 80, nodePort: 30001 }] },
    });
    const all = targetsFor(req, req.listeners[0]!, { nodes, endpointSlices: [] });
    expect(all.map((x) => x.id)).to.deep.equal(
      t.nodes
        .slice(2)
        .map((n) => `node/${n.name}:30001`)
        .sort(),
    );
    const zone = t.nodes[2]!.zone;
    const byLabel = targetsFor(
      { ...req, targetNodeLabels: { 'topology.kubernetes.io/zone': zone } },
      req.listeners[0]!,
      { nodes, endpointSlices: [] },
    );
    expect(byLabel.every((x) => x.zone === zone)).to.equal(true);
    expect(byLabel.length).to.be.greaterThan(0);
  });

  it('ip targets: the ready endpoints of the port named like the Service port', () => {
    const req = nlbRequest({
      metadata: { name: 's', annotations: { [ANNOTATION.type]: 'external', [ANNOTATION.targetType]: 'ip' } },
      spec: { type: 'LoadBalancer', ports: [{ name: 'http', port: 80, targetPort: 'web' }] },
    });
    const slice: V1EndpointSlice = {
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: [
        {
          addresses: ['10.0.0.5'],
          conditions: { ready: true },
          zone: 'a',
          targetRef: { kind: 'Pod', name: 'p1' },
        },
        {
          addresses: ['10.0.0.6'],
          conditions: { ready: false },
          zone: 'a',
          targetRef: { kind: 'Pod', name: 'p2' },
        },
      ],
    };
    const got = targetsFor(req, req.listeners[0]!, { nodes: [], endpointSlices: [slice] });
    expect(got).to.deep.equal([
      { id: 'pod/p1:8080', kind: 'ip', name: 'p1', address: '10.0.0.5', port: 8080, zone: 'a' },
    ]);
  });
});

describe('NLB pool: claiming a placement', () => {
  const hashing = { mode: '5-tuple' as const, seed: 1 };
  const pool = [
    { name: 'int-1', scheme: 'internal' as const, nodes: [], hashing },
    { name: 'pub-1', scheme: 'internet-facing' as const, nodes: [], hashing },
    { name: 'int-2', scheme: 'internal' as const, nodes: [], hashing },
  ];
  it('takes the first free one of the scheme, or the one named', () => {
    const req = { service: 'a/s', scheme: 'internal' as const };
    expect(claimPlacement(pool, new Map(), req)).to.deep.equal({ placement: pool[0] });
    expect(claimPlacement(pool, new Map([['int-1', 'b/t']]), req)).to.deep.equal({ placement: pool[2] });
    expect(claimPlacement(pool, new Map([['int-2', 'a/s']]), req)).to.deep.equal({ placement: pool[2] });
    expect(claimPlacement(pool, new Map(), { ...req, name: 'int-2' })).to.deep.equal({ placement: pool[2] });
  });
  it('says why there is none', () => {
    const req = { service: 'a/s', scheme: 'internal' as const };
    const full = new Map([
      ['int-1', 'b/t'],
      ['int-2', 'c/u'],
    ]);
    expect(claimPlacement(pool, full, req)).to.deep.equal({
      reason:
        'no free internal NLB placement in the lab; its placements: int-1 (internal, held by b/t), pub-1 (internet-facing), int-2 (internal, held by c/u)',
    });
    expect(claimPlacement(pool, new Map(), { ...req, name: 'pub-1' })).to.deep.equal({
      reason: 'NLB placement pub-1 is internet-facing, the Service asks for internal',
    });
    expect(claimPlacement(pool, new Map(), { ...req, name: 'nope' }))
      .to.have.property('reason')
      .that.match(/no NLB placement named nope/);
  });
});
