/**
 * Integration: what the kubeconfig backend says when the cluster does not deliver, on the lab's
 * test bed (`lab up --kubernetes --serve`; needs root and the built kubernetes and etcd): a pod
 * that never becomes Ready (its events in the error), a LoadBalancer Service that never gets an
 * address (a timeout naming it, with its events), and the run's namespace gone afterwards.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect } from 'chai';
import { CoreV1Api } from '@kubernetes/client-node';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI, REPO, runCli } from '../cli/cli-test-support.js';
import { done, notYet, waitFor, WaitTimeoutError } from '../kube/wait.js';
import type { ServeConfig } from '../kube/serve/controller.js';
import { processStartTime } from '../exec/process-identity.js';
import { requireKube } from '../kube/test-support.js';
import { loadKubeConfig } from './connect.js';
import { agentImage, nodeAgentPod, RUN_LABEL } from './manifests.js';
import { ClusterSession, PodNotReady } from './session.js';
import { provenance } from '../version.js';

const EXAMPLE = new URL('../../../examples/seed-004-cross-zone.yaml', import.meta.url).pathname;

describe('kubeconfig backend faults on the lab test bed', function () {
  this.timeout(300_000);
  let runId: string | undefined;
  let kubeconfig: string;
  let session: ClusterSession | undefined;
  let tmp: string;

  before(async function () {
    await requireKube(this);
    tmp = await mkdtemp(join(tmpdir(), 'rp-faults-'));
    const up = await runCli(['lab', 'up', EXAMPLE, '--kubernetes', '--serve'], { timeoutMs: 240_000 });
    runId = /^run (\w+):/m.exec(up.stdout)?.[1];
    expect(up.code, up.stderr + up.stdout).to.equal(0);
    kubeconfig = /^kubeconfig: (\S+)/m.exec(up.stdout)![1]!;
    session = await ClusterSession.open({
      kc: await loadKubeConfig(kubeconfig),
      kubeconfigPath: kubeconfig,
      run: 'faults',
      namespace: 'rp-faults',
      version: provenance().version,
      timeoutMs: 8000,
    });
  });
  after(async () => {
    await session?.close();
    if (runId) await runCli(['lab', 'down', runId, '--force']);
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('a pod that never becomes Ready: the error carries its events', async () => {
    // node-a has two pod slots (seed 004): a third pod there waits for one, Pending.
    const o = session!.o;
    const pods = ['one', 'two', 'three'].map((name) => ({
      ...nodeAgentPod('node-a', o),
      metadata: {
        name,
        namespace: o.namespace,
        labels: { [RUN_LABEL]: o.run, 'returnpath.dev/cell': 'faults' },
      },
      spec: {
        nodeName: 'node-a',
        containers: [{ name: 'agent', image: agentImage(o.version), command: ['returnpath-agent', 'hold'] }],
      },
    }));
    await session!.create('faults', { pods, services: [] });
    const err = await session!.waitPodsReady(['one', 'two', 'three']).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(PodNotReady);
    const message = (err as Error).message;
    expect(message).to.match(/^pod rp-faults\/(one|two|three): timed out after 8 s waiting for pod/);
    expect(message).to.contain('events:');
    expect(message).to.match(/slot/i);
    await session!.removeCell('faults');
  });

  it('a LoadBalancer Service that never gets an address: a timeout naming it, with its events', async () => {
    const o = session!.o;
    const svc = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'no-placement',
        namespace: o.namespace,
        labels: { [RUN_LABEL]: o.run, 'returnpath.dev/cell': 'faults-lb' },
        annotations: {
          'service.beta.kubernetes.io/aws-load-balancer-type': 'external',
          'service.beta.kubernetes.io/aws-load-balancer-name': 'no-such-nlb',
        },
      },
      spec: { type: 'LoadBalancer', selector: { app: 'none' }, ports: [{ port: 80, targetPort: 80 }] },
    };
    await session!.create('faults-lb', { pods: [], services: [svc] });
    const err = await session!.waitLoadBalancers([svc]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(WaitTimeoutError);
    expect((err as Error).message).to.contain('a load balancer address for Service rp-faults/no-placement');
    expect((err as WaitTimeoutError).lastSeen).to.match(/FailedDeployModel/);
    await session!.removeCell('faults-lb');
  });

  it('a run stopped by a second Ctrl-C leaves only its labelled namespace, which clean removes', async () => {
    const kc = await loadKubeConfig(kubeconfig);
    const core = kc.makeApiClient(CoreV1Api);
    const child = spawn(
      process.execPath,
      [
        CLI,
        'run',
        '--kubeconfig',
        kubeconfig,
        '--suite',
        'nlb-hairpin',
        '--grep',
        'seed004',
        '--results',
        tmp,
      ],
      { cwd: REPO, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    // Interrupt once the run's pods exist (a cell is in flight), twice: stop at once.
    const runNamespace = async (): Promise<string | undefined> =>
      (await core.listNamespace({ labelSelector: RUN_LABEL })).items
        .map((n) => n.metadata!.name!)
        .find((n) => n !== 'rp-faults');
    for (;;) {
      const ns = await runNamespace();
      if (ns && (await core.listNamespacedPod({ namespace: ns })).items.length > 0) break;
      if (child.exitCode !== null) throw new Error(`run ended before its pods existed:\n${out}`);
      await sleep(100);
    }
    process.kill(-child.pid!, 'SIGINT');
    await sleep(200);
    process.kill(-child.pid!, 'SIGINT');
    expect(await exited, out).to.equal(130);
    const left = await runNamespace();
    expect(left, 'the interrupted run left its namespace').to.be.a('string');
    const clean = await runCli(['clean', '--kubeconfig', kubeconfig], { timeoutMs: 180_000 });
    expect(clean.code, clean.stderr).to.equal(0);
    expect(clean.stdout).to.contain(`removed 1 namespace(s): ${left}`);
    expect(clean.stdout).to.contain('kept rp-faults: its run is in progress');
    expect(await runNamespace()).to.equal(undefined);
  });

  it("a kube-proxy that dies is restarted by the lab's kubelet, as a DaemonSet's pod", async () => {
    const config = JSON.parse(await readFile(join(dirname(kubeconfig), 'serve.json'), 'utf8')) as ServeConfig;
    const kp = config.kubeProxies.find((k) => k.node === 'node-a')!;
    expect(processStartTime(kp.pid), 'kube-proxy on node-a runs').to.equal(kp.startTime);
    process.kill(kp.pid, 'SIGKILL');
    const restarted = await waitFor(
      async () => {
        const log = await readFile(kp.logFile, 'utf8');
        const m = /kube-proxy on node-a \(pid \d+\) is not running; the lab kubelet restarts it/.exec(log);
        const pids = (await readdir('/proc')).filter((p) => /^\d+$/.test(p));
        for (const p of pids) {
          const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
          if (
            m &&
            Number(p) !== kp.pid &&
            cmd.includes(kp.argv.find((a) => a.startsWith('--config='))!) &&
            cmd.includes('kube-proxy')
          )
            return done(Number(p));
        }
        return notYet(m ? 'restart logged, no new process yet' : 'no restart logged yet');
      },
      { what: 'the restarted kube-proxy on node-a', timeoutMs: 30_000, maxIntervalMs: 200 },
    );
    expect(restarted).to.not.equal(kp.pid);
  });

  it('leaves nothing once closed', async () => {
    await session!.close();
    session = undefined;
    const kc = await loadKubeConfig(kubeconfig);
    const core = kc.makeApiClient(CoreV1Api);
    expect((await core.listNamespace({ labelSelector: RUN_LABEL })).items).to.deep.equal([]);
    expect((await core.listPodForAllNamespaces()).items).to.deep.equal([]);
  });
});
