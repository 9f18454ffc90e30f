/**
 * Integration: the lab's cloud provider against the real control plane (needs root, the lab's
 * tools and the built kubernetes and etcd components). Seed 001's network with its NLB as the
 * pool's only placement and no Service of its own; a Service created through the API (the
 * example manifest a user writes for the AWS Load Balancer Controller) is backed by the lab's
 * pods, gets its NLB and address, and the hairpin from the in-cluster client flips with
 * preserve_client_ip.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type CoreV1Event,
  type V1Service,
} from '@kubernetes/client-node';
import { expect } from 'chai';
import { parse, stringify } from 'yaml';
import { LabAgents } from '../../lab/agents.js';
import { Lab, LabHandle } from '../../lab/lab.js';
import { pidsInNetns } from '../../lab/state.js';
import { loadTopology, validateTopology } from '../../model/topology.js';
import { TrafficAgent } from '../../traffic/agent.js';
import { ANNOTATION } from '../../nlb/annotations.js';
import { nlbContributor } from '../../nlb/plan.js';
import { ClusterApi } from '../cluster-api.js';
import { KubeEnvironment, type SlotLease } from '../environment.js';
import { requireKube } from '../test-support.js';
import { done, notYet, waitFor } from '../wait.js';
import { FINALIZER, HEALTH_CONDITION, LabCloudProvider } from './cloud-provider.js';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const VIP = '192.168.28.103';

describe('the lab cloud provider (LoadBalancer Services with the AWS Load Balancer Controller annotations)', function () {
  this.timeout(300_000);
  let env: KubeEnvironment;
  let lease: SlotLease;
  let lab: Lab;
  let api: ClusterApi;
  let provider: LabCloudProvider;
  let agents: LabAgents;
  const created: string[] = [];

  before(async function () {
    await requireKube(this);
    env = new KubeEnvironment({ slots: 1 });
    lease = await env.lease();
    // Seed 001 without its Service: its NLB is the pool's placement, its pods the backends.
    const doc = parse(await readFile(`${repo}examples/seed-001-hairpin.yaml`, 'utf8')) as Record<
      string,
      unknown
    >;
    doc['services'] = [];
    const lb = (doc['loadBalancers'] as Record<string, unknown>[])[0]!;
    lb['targetGroups'] = [
      { name: 'nodes', targetType: 'instance', targets: [{ node: 'node-1', port: 31468 }] },
    ];
    const stage = lease.stage('iptables');
    lab = await Lab.up(validateTopology(doc), { contributors: [nlbContributor], stages: [stage] });
    api = stage.live!.api;
    agents = new LabAgents(lab);
    await agents.serve(['nginx-1', 'nginx-2', 'nginx-3'], 80);
    // The Service selects app=nginx: the lab registered its pods (in default, as no Service of the topology names them).
    await Promise.all(
      ['nginx-1', 'nginx-2', 'nginx-3'].map((name) =>
        api.core.patchNamespacedPod(
          { name, namespace: 'default', body: { metadata: { labels: { app: 'nginx' } } } },
          mergePatch,
        ),
      ),
    );
    provider = new LabCloudProvider({ api, lab, topology: lab.topology });
    await provider.start();
  });

  after(async () => {
    try {
      if (api)
        for (const name of created) {
          await api.core.deleteNamespacedService({ name, namespace: 'default' }).catch(() => undefined);
          await gone(name);
        }
    } finally {
      await provider?.stop();
      await lab?.down();
      lease?.release();
      await env?.close();
    }
  });

  async function example(name: string, annotations: Record<string, string> = {}): Promise<V1Service> {
    const svc = parse(
      await readFile(`${repo}examples/nlb-service-lbc-annotations.yaml`, 'utf8'),
    ) as V1Service;
    svc.metadata!.name = name;
    svc.metadata!.namespace = 'default';
    Object.assign(svc.metadata!.annotations!, annotations);
    return svc;
  }

  /** Creates a Service; only the first keeps the example's node port (the apiserver allocates the others'). */
  async function create(svc: V1Service): Promise<void> {
    if (created.length > 0 && svc.spec?.ports?.[0]) delete svc.spec.ports[0].nodePort;
    await api.core.createNamespacedService({ namespace: 'default', body: svc });
    created.push(svc.metadata!.name!);
  }

  const read = (name: string): Promise<V1Service> =>
    api.core.readNamespacedService({ name, namespace: 'default' });

  function until<T>(what: string, check: (svc: V1Service) => T | undefined, name: string): Promise<T> {
    return waitFor(
      async () => {
        const svc = await read(name);
        const v = check(svc);
        return v === undefined ? notYet(JSON.stringify(svc.status)) : done(v);
      },
      { what, timeoutMs: 90_000 },
    );
  }

  function gone(name: string): Promise<void> {
    return waitFor(
      async () => {
        try {
          const s = await read(name);
          return notYet(`still there, finalizers ${JSON.stringify(s.metadata?.finalizers)}`);
        } catch {
          return done(undefined);
        }
      },
      { what: `Service ${name} to be deleted`, timeoutMs: 90_000 },
    );
  }

  /** The condition's health once determined and every target healthy (a target whose node port kube-proxy has not written yet fails its first checks). */
  const healthOf = (svc: V1Service): Record<string, boolean | null> | undefined => {
    const c = svc.status?.conditions?.find((x) => x.type === HEALTH_CONDITION);
    if (c?.status !== 'True') return undefined;
    const h = JSON.parse(c.message) as Record<string, boolean | null>;
    return Object.values(h).every((v) => v === true) ? h : undefined;
  };

  async function warnings(name: string, n = 1): Promise<CoreV1Event[]> {
    return waitFor(
      async () => {
        const ev = (
          await api.core.listNamespacedEvent({
            namespace: 'default',
            fieldSelector: `involvedObject.name=${name}`,
          })
        ).items.filter((e) => e.type === 'Warning');
        return ev.length >= n ? done(ev) : notYet(`${ev.length} warnings`);
      },
      { what: `a Warning event for ${name}`, timeoutMs: 60_000 },
    );
  }

  const probe = async (attempts: number) =>
    (await agents.get('netshoot')).probe({ kind: 'tcp', host: VIP, port: 80, attempts, deadlineMs: 400 });

  /** The NLB node's rules: SNAT to its own address is client IP preservation off. */
  const snat = async (): Promise<boolean> =>
    (await lab.host('nlb/nginx-nlb/eu-west-1a').run(['iptables-save', '-t', 'nat'])).stdout.includes(
      '-j SNAT',
    );

  it('gives the Service its NLB: ingress, finalizer, target health of every node; the hairpin times out with preserve_client_ip on', async () => {
    await create(await example('web'));
    const health = await until('the NLB target health condition', healthOf, 'web');
    expect(health).to.deep.equal({
      '80/node/node-1:31468': true,
      '80/node/node-2:31468': true,
      '80/node/node-3:31468': true,
    });
    const svc = await read('web');
    expect(svc.status?.loadBalancer?.ingress).to.deep.equal([
      { hostname: 'nginx-nlb.nlb.returnpath.invalid', ip: VIP, ipMode: 'Proxy' },
    ]);
    expect(svc.metadata?.finalizers).to.include(FINALIZER);
    expect(await snat()).to.equal(false);
    const r = await probe(60);
    // node-1 (the client's own node) is one target of three: the NLB picks it for some flows, whose replies never return.
    expect(r.counts.timeout, r.reproduce).to.be.greaterThan(0);
    expect(r.counts.connected, r.reproduce).to.be.greaterThan(0);
  });

  it('follows the annotation: preserve_client_ip off, every connection completes', async () => {
    const svc = await read('web');
    await api.core.patchNamespacedService(
      {
        name: 'web',
        namespace: 'default',
        body: {
          metadata: {
            annotations: {
              ...svc.metadata!.annotations,
              [ANNOTATION.targetGroupAttributes]: 'preserve_client_ip.enabled=false',
            },
          },
        },
      },
      mergePatch,
    );
    await waitFor(async () => ((await snat()) ? done(true) : notYet('no SNAT rule yet')), {
      what: 'the NLB node to SNAT (preservation off)',
      timeoutMs: 60_000,
    });
    await until('the NLB target health condition', healthOf, 'web');
    const r = await probe(60);
    expect(r.counts.connected, r.reproduce).to.equal(60);
  });

  it('a second Service finds no free placement, a bad annotation is named: Warning events, no address', async () => {
    await create(await example('web-2', { [ANNOTATION.name]: 'nginx-nlb' }));
    await create(await example('web-bad', { [ANNOTATION.scheme]: 'public', [ANNOTATION.name]: 'other' }));
    const [full] = await warnings('web-2');
    expect(full!.reason).to.equal('FailedDeployModel');
    expect(full!.message).to.equal('NLB placement nginx-nlb is held by default/web');
    const [bad] = await warnings('web-bad');
    expect(bad!.reason).to.equal('FailedBuildModel');
    expect(bad!.message).to.include(
      `metadata.annotations["${ANNOTATION.scheme}"]: allowed: internal, internet-facing (got public)`,
    );
    for (const name of ['web-2', 'web-bad'])
      expect((await read(name)).status?.loadBalancer?.ingress ?? []).to.deep.equal([]);
  });

  it('deleting the Service releases its NLB (then the finalizer goes); the waiting Service takes it', async () => {
    await api.core.deleteNamespacedService({ name: 'web', namespace: 'default' });
    await gone('web');
    created.splice(created.indexOf('web'), 1);
    const health = await until('web-2 to get the NLB', healthOf, 'web-2');
    expect(Object.keys(health)).to.have.length(3);
    expect((await read('web-2')).status?.loadBalancer?.ingress?.[0]?.ip).to.equal(VIP);
    expect(provider.holders()).to.deep.equal(new Map([['nginx-nlb', 'default/web-2']]));
    // web-2 has preservation on again: the hairpin is back.
    const r = await probe(60);
    expect(r.counts.timeout, r.reproduce).to.be.greaterThan(0);
  });

  it('instance targets follow the Nodes: a node that turns NotReady leaves the target group, and comes back', async () => {
    const setReady = (ready: boolean): Promise<unknown> =>
      api.core.patchNodeStatus(
        {
          name: 'node-3',
          body: {
            status: {
              conditions: [
                {
                  type: 'Ready',
                  status: ready ? 'True' : 'False',
                  reason: ready ? 'KubeletReady' : 'TestNotReady',
                  message: 'set by the cloud provider test',
                },
              ],
            },
          },
        },
        mergePatch,
      );
    const keys = (svc: V1Service): string[] | undefined => {
      const h = healthOf(svc);
      return h ? Object.keys(h).map((k) => k.replace(/:\d+$/, '')) : undefined;
    };
    await setReady(false);
    try {
      await until(
        'node-3 to leave the target group',
        (svc) => (keys(svc)?.join() === '80/node/node-1,80/node/node-2' ? true : undefined),
        'web-2',
      );
    } finally {
      await setReady(true);
    }
    await until('node-3 to be back', (svc) => (keys(svc)?.length === 3 ? true : undefined), 'web-2');
  });

  it('ip targets follow the EndpointSlices: preservation off by default, every connection completes; a pod that leaves the selector leaves the target group', async () => {
    for (const name of ['web-2', 'web-bad']) {
      await api.core.deleteNamespacedService({ name, namespace: 'default' });
      await gone(name);
      created.splice(created.indexOf(name), 1);
    }
    await create(
      await example('web-ip', { [ANNOTATION.targetType]: 'ip', [ANNOTATION.targetGroupAttributes]: '' }),
    );
    const health = await until('the ip targets to be healthy', healthOf, 'web-ip');
    expect(Object.keys(health).sort()).to.deep.equal([
      '80/pod/nginx-1:80',
      '80/pod/nginx-2:80',
      '80/pod/nginx-3:80',
    ]);
    expect(await snat()).to.equal(true);
    const r = await probe(40);
    expect(r.counts.connected, r.reproduce).to.equal(40);
    const label = (value: string | null): Promise<unknown> =>
      api.core.patchNamespacedPod(
        { name: 'nginx-3', namespace: 'default', body: { metadata: { labels: { app: value } } } },
        mergePatch,
      );
    await label(null);
    try {
      const left = await until(
        'nginx-3 to leave the target group',
        (svc) => {
          const h = healthOf(svc);
          return h && Object.keys(h).length === 2 ? h : undefined;
        },
        'web-ip',
      );
      expect(Object.keys(left).sort()).to.deep.equal(['80/pod/nginx-1:80', '80/pod/nginx-2:80']);
      const after = await probe(40);
      expect(new Set(after.attempts.map((a) => a.server))).to.not.include('pod/nginx-3');
    } finally {
      await label('nginx');
    }
  });

  it("Local policy: HTTP health checks on the Service's real health-check node port; a node whose endpoint leaves turns unhealthy", async () => {
    await api.core.deleteNamespacedService({ name: 'web-ip', namespace: 'default' });
    await gone('web-ip');
    created.splice(created.indexOf('web-ip'), 1);
    const svc = await example('web-local');
    svc.spec!.externalTrafficPolicy = 'Local';
    await create(svc);
    await until('every node healthy', healthOf, 'web-local');
    const port = (await read('web-local')).spec!.healthCheckNodePort!;
    expect(port).to.be.greaterThan(0);
    const label = (value: string | null): Promise<unknown> =>
      api.core.patchNamespacedPod(
        { name: 'nginx-3', namespace: 'default', body: { metadata: { labels: { app: value } } } },
        mergePatch,
      );
    await label(null);
    try {
      const h = await until(
        'node-3 to turn unhealthy (kube-proxy answers 503 on its health-check node port)',
        (s) => {
          const c = s.status?.conditions?.find((x) => x.type === HEALTH_CONDITION);
          const v = c?.status === 'True' ? (JSON.parse(c.message) as Record<string, boolean | null>) : {};
          const entries = Object.entries(v);
          return entries.length === 3 && entries.filter(([, ok]) => ok === false).length === 1
            ? v
            : undefined;
        },
        'web-local',
      );
      expect(Object.entries(h).find(([, ok]) => ok === false)![0]).to.match(/^80\/node\/node-3:\d+$/);
    } finally {
      await label('nginx');
    }
  });

  it('stop({ release: true }) releases the NLBs it holds and removes its finalizer (nothing waits for a provider that is gone)', async () => {
    expect((await read('web-local')).metadata?.finalizers).to.include(FINALIZER);
    await provider.stop({ release: true });
    expect((await read('web-local')).metadata?.finalizers ?? []).to.not.include(FINALIZER);
    const nat = (await lab.host('nlb/nginx-nlb/eu-west-1a').run(['iptables-save', '-t', 'nat'])).stdout;
    expect(nat).to.not.include('RP-NLB-L80');
  });
});

describe('the lab cloud provider on a lab left up by lab up --kubernetes (its NLB agents run on alone)', function () {
  this.timeout(300_000);
  before(async function () {
    await requireKube(this);
  });

  const cli = (args: string[]): Promise<{ code: number; out: string }> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [`${repo}bin/returnpath.js`, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('exit', (code) => resolve({ code: code ?? 1, out }));
    });

  it('restarts the detached agents with the Service configuration: the NLB forwards, preservation off', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rp-p13-'));
    const agents: TrafficAgent[] = [];
    let runId: string | undefined;
    let provider: LabCloudProvider | undefined;
    let api: ClusterApi | undefined;
    try {
      const doc = parse(await readFile(`${repo}examples/seed-001-hairpin.yaml`, 'utf8')) as Record<
        string,
        unknown
      >;
      doc['services'] = [];
      (doc['loadBalancers'] as Record<string, unknown>[])[0]!['targetGroups'] = [
        { name: 'nodes', targetType: 'instance', targets: [{ node: 'node-1', port: 31468 }] },
      ];
      const file = join(dir, 'pool.yaml');
      await writeFile(file, stringify(doc));
      const up = await cli(['lab', 'up', file, '--kubernetes']);
      expect(up.code, up.out).to.equal(0);
      runId = /^run ([0-9a-f]{6}):/m.exec(up.out)![1]!;
      const kubeconfig = /^kubeconfig: (\S+)$/m.exec(up.out)![1]!;
      const handle = await LabHandle.attach(runId);
      const nlbHost = 'nlb/nginx-nlb/eu-west-1a';
      // The agents in this NLB node's namespace only (pgrep would see every lab's).
      const netns = handle.hosts.find((h) => h.id === nlbHost)!.netns;
      const agentPids = async (): Promise<string> => {
        const pids: number[] = [];
        for (const pid of await pidsInNetns([netns]))
          if (
            (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).includes('lib/nlb/node-agent.js')
          )
            pids.push(pid);
        return pids.join(' ');
      };
      const before = await agentPids();
      expect(before, 'the NLB node agent lab up left running').to.match(/^\d+$/);
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfig);
      api = new ClusterApi(kc);
      for (const name of ['nginx-1', 'nginx-2', 'nginx-3']) {
        const a = await TrafficAgent.start(handle.host(name), { name });
        agents.push(a);
        await a.startServer({ name, kind: 'tcp', port: 80 });
        await api.core.patchNamespacedPod(
          { name, namespace: 'default', body: { metadata: { labels: { app: 'nginx' } } } },
          mergePatch,
        );
      }
      provider = new LabCloudProvider({ api, lab: handle, topology: await loadTopology(file) });
      await provider.start();
      const svc = parse(
        await readFile(`${repo}examples/nlb-service-lbc-annotations.yaml`, 'utf8'),
      ) as V1Service;
      svc.metadata!.namespace = 'default';
      svc.metadata!.annotations![ANNOTATION.targetGroupAttributes] = 'preserve_client_ip.enabled=false';
      await api.core.createNamespacedService({ namespace: 'default', body: svc });
      const c = await waitFor(
        async () => {
          const s = await api!.core.readNamespacedService({
            name: svc.metadata!.name!,
            namespace: 'default',
          });
          const cond = s.status?.conditions?.find((x) => x.type === HEALTH_CONDITION);
          const h = cond?.status === 'True' ? (JSON.parse(cond.message) as Record<string, boolean>) : {};
          const n = Object.values(h).filter((v) => v === true).length;
          return n === 3 ? done(h) : notYet(JSON.stringify(s.status));
        },
        { what: 'every target healthy', timeoutMs: 90_000 },
      );
      expect(Object.keys(c)).to.have.length(3);
      const after = await agentPids();
      expect(after).to.match(/^\d+$/);
      expect(after, 'the agent was restarted').to.not.equal(before);
      const client = await TrafficAgent.start(handle.host('netshoot'), { name: 'netshoot' });
      agents.push(client);
      const r = await client.probe({ kind: 'tcp', host: VIP, port: 80, attempts: 40, deadlineMs: 400 });
      expect(r.counts.connected, r.reproduce).to.equal(40);
      await api.core.deleteNamespacedService({ name: svc.metadata!.name!, namespace: 'default' });
      await waitFor(
        async () =>
          (await api!.core.listNamespacedService({ namespace: 'default' })).items.some(
            (s) => s.metadata?.name === svc.metadata!.name,
          )
            ? notYet('still there')
            : done(true),
        { what: 'the Service to be deleted (finalizer removed)', timeoutMs: 60_000 },
      );
      // Released: no agent, no listener.
      expect(await agentPids()).to.equal('');
    } finally {
      await provider?.stop();
      for (const a of agents) await a.close().catch(() => undefined);
      if (runId) {
        const down = await cli(['lab', 'down', runId]);
        expect(down.code, down.out).to.equal(0);
      }
      await rm(dir, { recursive: true, force: true });
    }
  });
});
