/**
 * Integration: serve mode end to end, as a user runs it. `lab up --kubernetes --serve` (the built
 * CLI), Pods created through the API run in the lab's pod slots, exec goes through the real
 * kube-apiserver to the lab kubelet, deletion frees the slots, and `lab down` leaves nothing.
 * Needs root, the lab's tools and the built kubernetes and etcd components (CI has them all).
 */
import { readdir, readFile } from 'node:fs/promises';
import { PassThrough, Readable } from 'node:stream';
import { expect } from 'chai';
import { CoreV1Api, Exec, KubeConfig, type V1Pod, type V1Status } from '@kubernetes/client-node';
import { runCli, REPO } from '../../cli/cli-test-support.js';
import { newRunId } from '../../lab/lab.js';
import { netnsName } from '../../lab/plan.js';
import { listNetns, pidsInNetns, STATE_DIR } from '../../lab/state.js';
import { apiStatus } from '../cluster-api.js';
import { requireKube } from '../test-support.js';
import { done, notYet, waitFor } from '../wait.js';
import { exitCodeOf } from './pod-status.js';

const TOPOLOGY = `${REPO}examples/seed-003-baseline.yaml`;
const AGENT_IMAGE = 'returnpath/agent:0.1.0';

interface ExecResult {
  stdout: string;
  stderr: string;
  status: V1Status;
}

function execIn(kc: KubeConfig, pod: string, command: string[], input?: string): Promise<ExecResult> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d: Buffer) => (stdout += String(d)));
  err.on('data', (d: Buffer) => (stderr += String(d)));
  const stdin = input === undefined ? null : Readable.from([Buffer.from(input)]);
  return new Promise((resolve, reject) => {
    new Exec(kc)
      .exec('default', pod, 'app', command, out, err, stdin, false, (status) =>
        resolve({ stdout, stderr, status }),
      )
      .then((ws) =>
        ws.on('close', () =>
          setTimeout(() => reject(new Error(`exec ${command.join(' ')}: closed without a status`)), 100),
        ),
      )
      .catch(reject);
  });
}

function agentPod(name: string, node: string, args: string[], extra: Partial<V1Pod['spec']> = {}): V1Pod {
  return {
    metadata: { name, namespace: 'default', labels: { 'returnpath.dev/run': 'serve-test' } },
    spec: {
      nodeName: node,
      terminationGracePeriodSeconds: 5,
      containers: [{ name: 'app', image: AGENT_IMAGE, command: ['returnpath-agent', ...args] }],
      ...extra,
    },
  };
}

describe('serve mode: the lab kubelet behind a real apiserver (lab up --kubernetes --serve)', function () {
  this.timeout(300_000);
  const runId = newRunId();
  let kc: KubeConfig;
  let core: CoreV1Api;
  let up = false;

  const pod = (name: string): Promise<V1Pod> => core.readNamespacedPod({ name, namespace: 'default' });
  const waitPod = (name: string, what: string, ok: (p: V1Pod) => string | true): Promise<V1Pod> =>
    waitFor(
      async () => {
        const p = await pod(name);
        const r = ok(p);
        return r === true ? done(p) : notYet(r);
      },
      { what: `Pod ${name} ${what}`, timeoutMs: 60_000 },
    );
  const ready = (p: V1Pod): string | true =>
    p.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True'
      ? true
      : `phase ${p.status?.phase}, ${JSON.stringify(p.status?.containerStatuses?.[0]?.state ?? {})}`;
  const gone = (name: string): Promise<void> =>
    waitFor(
      async () => {
        try {
          await pod(name);
          return notYet('still there');
        } catch (e) {
          if (apiStatus(e) === 404) return done(undefined);
          throw e;
        }
      },
      { what: `Pod ${name} to be gone`, timeoutMs: 60_000 },
    );

  before(async function () {
    await requireKube(this);
    const r = await runCli(['lab', 'up', TOPOLOGY, '--kubernetes', '--serve', '--run-id', runId], {
      timeoutMs: 240_000,
    });
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    up = true;
    expect(r.stdout).to.match(/serve mode: Nodes only; the lab kubelet at https:\/\/127\.\d+\.\d+\.2:10250/);
    const file = /^kubeconfig: (\S+)$/m.exec(r.stdout)?.[1];
    expect(file, r.stdout).to.be.a('string');
    kc = new KubeConfig();
    kc.loadFromFile(file!);
    core = kc.makeApiClient(CoreV1Api);
  });

  after(async function () {
    if (!up) return;
    const r = await runCli(['lab', 'down', runId], { timeoutMs: 120_000 });
    expect(r.code, r.stdout + r.stderr).to.equal(0);
  });

  it('registers the Nodes only, each with its VPC InternalIP and the kubelet endpoint the apiserver dials', async () => {
    const nodes = (await core.listNode()).items;
    expect(nodes.map((n) => n.metadata?.name).sort()).to.deep.equal(['node-a', 'node-b', 'node-c']);
    const a = nodes.find((n) => n.metadata?.name === 'node-a')!;
    expect(a.status?.addresses?.find((x) => x.type === 'InternalIP')?.address).to.equal('10.0.1.10');
    expect(a.status?.addresses?.find((x) => x.type === 'InternalDNS')?.address).to.match(
      /^127\.\d+\.\d+\.2$/,
    );
    expect(a.status?.daemonEndpoints?.kubeletEndpoint?.Port).to.equal(10250);
    expect((await core.listPodForAllNamespaces()).items).to.deep.equal([]);
  });

  it("runs a Pod in its node's slot: Running, Ready, the slot's address", async () => {
    await core.createNamespacedPod({ namespace: 'default', body: agentPod('web-1', 'node-a', ['hold']) });
    await core.createNamespacedPod({ namespace: 'default', body: agentPod('other', 'node-a', ['hold']) });
    const p = await waitPod('web-1', 'to be Ready', ready);
    // The slot of the topology pod of the same name, then the node's first free one.
    expect(p.status?.podIP).to.equal('10.0.1.50');
    expect(p.status?.podIPs).to.deep.equal([{ ip: '10.0.1.50' }]);
    expect(p.status?.hostIP).to.equal('10.0.1.10');
    expect(p.status?.phase).to.equal('Running');
    expect(p.status?.containerStatuses?.[0]).to.include({ name: 'app', ready: true, restartCount: 0 });
    const o = await waitPod('other', 'to be Ready', ready);
    expect(o.status?.podIP).to.equal('10.0.1.70');
    // The Started Event (written after the status) names the log file.
    const started = await waitFor(
      async () => {
        const e = (await core.listNamespacedEvent({ namespace: 'default' })).items.find(
          (x) => x.involvedObject.name === 'web-1' && x.reason === 'Started',
        );
        return e ? done(e) : notYet('no Started event yet');
      },
      { what: 'the Started event of web-1', timeoutMs: 30_000 },
    );
    expect(started.message).to.match(/output in \/.*app\.log/);
    // kubectl logs: the container's output, through the apiserver (the ready line is written at start).
    const log = await waitFor(
      async () => {
        const l = await core.readNamespacedPodLog({ name: 'web-1', namespace: 'default' });
        return l ? done(l) : notYet('empty log');
      },
      { what: 'the log of web-1', timeoutMs: 30_000 },
    );
    expect(log).to.match(/^returnpath-agent: ready \(pid \d+\)/);
  });

  it('exec through the apiserver: stdout, stderr, exit codes, stdin, returnpath-agent', async () => {
    const both = await execIn(kc, 'web-1', ['sh', '-c', 'echo out; echo err >&2']);
    expect(both).to.deep.include({ stdout: 'out\n', stderr: 'err\n' });
    expect(both.status.status).to.equal('Success');
    const fail = await execIn(kc, 'web-1', ['sh', '-c', 'exit 7']);
    expect(fail.status).to.deep.include({ status: 'Failure', reason: 'NonZeroExitCode' });
    expect(fail.status.details?.causes).to.deep.equal([{ reason: 'ExitCode', message: '7' }]);
    const cat = await execIn(kc, 'web-1', ['cat'], 'hello through stdin\n');
    expect(cat.stdout).to.equal('hello through stdin\n');
    expect(cat.status.status).to.equal('Success');
    const addr = await execIn(kc, 'web-1', ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0']);
    expect(addr.stdout).to.contain('10.0.1.50/');
    const version = await execIn(kc, 'web-1', ['returnpath-agent', 'version']);
    expect(version.stdout).to.match(/^returnpath-agent \d+\.\d+\.\d+ /);
  });

  it("runs a hostNetwork Pod in its node's namespace", async () => {
    await core.createNamespacedPod({
      namespace: 'default',
      body: agentPod('node-agent', 'node-b', ['hold'], { hostNetwork: true }),
    });
    const p = await waitPod('node-agent', 'to be Ready', ready);
    expect(p.status?.podIP).to.equal('10.0.2.10');
    const addr = await execIn(kc, 'node-agent', ['ip', '-4', '-o', 'addr']);
    expect(addr.stdout).to.contain('10.0.2.10/');
    expect(addr.stdout).not.to.contain('10.0.2.60/');
  });

  it('marks a Pod Ready by its tcpSocket readiness probe', async () => {
    await core.createNamespacedPod({
      namespace: 'default',
      body: agentPod('web-2', 'node-b', ['serve', 'http', '8080'], {
        containers: [
          {
            name: 'app',
            image: AGENT_IMAGE,
            command: ['returnpath-agent', 'serve', 'http', '8080'],
            readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
          },
        ],
      }),
    });
    const p = await waitPod('web-2', 'to be Ready', ready);
    expect(p.status?.podIP).to.equal('10.0.2.60');
  });

  it('refuses a foreign image with a clear status', async () => {
    await core.createNamespacedPod({
      namespace: 'default',
      body: {
        metadata: { name: 'nginx', namespace: 'default' },
        spec: { nodeName: 'node-b', containers: [{ name: 'app', image: 'nginx:1.27' }] },
      },
    });
    const p = await waitPod('nginx', 'to be refused', (x) =>
      x.status?.phase === 'Failed' ? true : `phase ${x.status?.phase}`,
    );
    expect(p.status?.reason).to.equal('ImageNotRunnableInLab');
    expect(p.status?.message).to.contain('nginx:1.27');
  });

  it('restarts a container that exits, counting restarts', async () => {
    // `serve tcp 0` is refused by the agent (exit 2): restartPolicy Always restarts it with backoff.
    await core.createNamespacedPod({
      namespace: 'default',
      body: agentPod('crash', 'node-b', ['serve', 'tcp', '0']),
    });
    // Counted once it runs again (after a 1 s backoff), with the previous run's exit.
    const p = await waitPod('crash', 'to be restarted', (x) =>
      (x.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1 &&
      x.status?.containerStatuses?.[0]?.lastState?.terminated
        ? true
        : JSON.stringify(x.status?.containerStatuses?.[0] ?? {}),
    );
    expect(p.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode).to.equal(exitCodeOf(2, null));
  });

  it('keeps a Pod Pending while its node has no free slot, and runs it once one frees', async () => {
    await core.createNamespacedPod({ namespace: 'default', body: agentPod('c-1', 'node-c', ['hold']) });
    await waitPod('c-1', 'to be Ready', ready);
    await core.createNamespacedPod({ namespace: 'default', body: agentPod('c-2', 'node-c', ['hold']) });
    const pending = await waitPod('c-2', 'to wait for a slot', (x) =>
      x.status?.conditions?.some((c) => c.reason === 'NoFreePodSlot') ? true : JSON.stringify(x.status ?? {}),
    );
    expect(pending.status?.phase).to.equal('Pending');
    await core.deleteNamespacedPod({ name: 'c-1', namespace: 'default' });
    await gone('c-1');
    const p = await waitPod('c-2', 'to be Ready', ready);
    expect(p.status?.podIP).to.equal('10.0.1.80');
  });

  it('deletes Pods gracefully: processes stopped, slots free, the Pods gone from the API', async () => {
    const names = ['web-1', 'other', 'node-agent', 'web-2', 'nginx', 'crash', 'c-2'];
    await Promise.all(names.map((name) => core.deleteNamespacedPod({ name, namespace: 'default' })));
    await Promise.all(names.map((n) => gone(n)));
    const slots = ['web-1', 'client-a', 'web-2', 'client-b', 'other-net'].map((p) =>
      netnsName(runId, `pod/${p}`),
    );
    expect(await pidsInNetns(slots)).to.deep.equal([]);
    // A Pod removed at once (grace 0: no kubelet confirms) is stopped too.
    await core.createNamespacedPod({ namespace: 'default', body: agentPod('c-3', 'node-c', ['hold']) });
    await waitPod('c-3', 'to be Ready', ready);
    const slotC = netnsName(runId, 'pod/other-net');
    expect(await pidsInNetns([slotC])).to.have.length(1);
    await core.deleteNamespacedPod({ name: 'c-3', namespace: 'default', gracePeriodSeconds: 0 });
    await waitFor(
      async () => ((await pidsInNetns([slotC])).length === 0 ? done(true) : notYet('its process runs')),
      { what: 'the process of force-deleted Pod c-3 to stop', timeoutMs: 30_000 },
    );
    // The slot is free again: a new web-1 gets it.
    await core.createNamespacedPod({ namespace: 'default', body: agentPod('web-1', 'node-a', ['hold']) });
    expect((await waitPod('web-1', 'to be Ready', ready)).status?.podIP).to.equal('10.0.1.50');
  });

  it('lab down leaves nothing: no namespaces, no processes, no state', async () => {
    const r = await runCli(['lab', 'down', runId], { timeoutMs: 120_000 });
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    up = false;
    expect((await listNetns()).filter((n) => n.startsWith(`rp-${runId}-`))).to.deep.equal([]);
    expect((await readdir(STATE_DIR)).filter((f) => f.includes(runId))).to.deep.equal([]);
    const left: string[] = [];
    for (const p of await readdir('/proc')) {
      if (!/^\d+$/.test(p)) continue;
      const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
      if (cmd.includes(`kube-${runId}`)) left.push(`${p}: ${cmd.replace(/\0/g, ' ')}`);
    }
    expect(left).to.deep.equal([]);
  });
});
