/**
 * The lab kubelet (serve mode): runs the Pods bound to the lab's nodes, whoever created them.
 *
 * - A Pod takes a pod slot of its node (spec.ts: the pre-wired namespace of the topology pod of the
 *   same name, else the node's first free one) and its address; hostNetwork Pods run in the node's
 *   namespace. No free slot: Pending, with a condition and an Event saying so, until one frees.
 * - Only the agent image runs (pod-status.ts): its process is `node bin/returnpath-agent.js ARGS`
 *   in the Pod's namespace, in its own process group, output to a log file the Started Event cites.
 *   Any other image or command: Failed with reason ImageNotRunnableInLab.
 * - Status as a kubelet writes it: Running, Ready (a tcpSocket or exec readiness probe, else when
 *   the process runs), addresses, conditions, the container's state; an exit is restarted with
 *   backoff under restartPolicy Always/OnFailure (restarts counted), else the Pod ends.
 * - A deleted Pod (deletionTimestamp): SIGTERM, SIGKILL after its grace period, its execs killed,
 *   the slot freed, then the final delete (grace 0). A Pod gone from the API frees its slot.
 * - exec and logs: the ExecServer, the Node status says where (node-status.ts).
 */
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CoreV1Api,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  type Informer,
  type KubeConfig,
  type ObjectCache,
  type V1Pod,
  type V1PodStatus,
} from '@kubernetes/client-node';
import type { NetnsExec } from '../../exec/netns.js';
import { apiErrorText, apiStatus } from '../cluster-api.js';
import { ExecServer, killGroup, trackStart, type ExecTarget } from './exec-server.js';
import type { ExecRequest } from './channels.js';
import { kubeletNodeStatus } from './node-status.js';
import {
  execArgv,
  exitCodeOf,
  IMAGE_NOT_RUNNABLE,
  NO_FREE_SLOT,
  noSlotPodStatus,
  planPod,
  refusedPodStatus,
  restartBackoffMs,
  restarts,
  runningPodStatus,
  type ContainerState,
  type PodPlan,
  type Readiness,
} from './pod-status.js';
import { chooseSlot, type PodSlot, type ServeNode, type ServeSpec } from './spec.js';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export interface LabKubeletOptions {
  kubeConfig: KubeConfig;
  spec: ServeSpec;
  /** A lab host's namespace (`node/NAME`, `pod/NAME`). */
  host(hostId: string): NetnsExec;
  /** The HTTPS listener (exec, healthz) and its PEM files. */
  listen: { host: string; port: number; cert: string; key: string; ca: string };
  /** bin/returnpath-agent.js of this build (what `returnpath-agent` runs as). */
  agentEntry: string;
  /** Container logs go under it, one directory per Pod. */
  logDir: string;
  nodeBinary?: string;
  /** Whether every role of the controller is up (healthz). */
  healthy?: () => boolean;
  log?: (line: string) => void;
}

type Agent = Extract<PodPlan, { ok: true }>;

interface PodRun {
  uid: string;
  namespace: string;
  name: string;
  node: ServeNode;
  slot: PodSlot | undefined;
  hostId: string;
  podIP: string;
  plan: Agent;
  restartPolicy: string | undefined;
  startTime: string;
  logFile: string;
  child: ChildProcess | undefined;
  state: ContainerState;
  last: Extract<ContainerState, { kind: 'terminated' }> | undefined;
  restartCount: number;
  final: boolean;
  stopping: boolean;
  timers: Set<NodeJS.Timeout>;
  execs: Set<ChildProcess>;
  env: NodeJS.ProcessEnv;
}

export class LabKubelet {
  private readonly core: CoreV1Api;
  private readonly nodes: Map<string, ServeNode>;
  private readonly runs = new Map<string, PodRun>();
  /** Slot name → Pod uid. */
  private readonly taken = new Map<string, string>();
  /** Pods waiting for a slot (uid → last seen), per node, in arrival order. */
  private readonly waiting = new Map<string, V1Pod>();
  /** Pods already refused or finished (never started again). */
  private readonly settled = new Set<string>();
  private readonly queues = new Map<string, Promise<void>>();
  private informer: (Informer<V1Pod> & ObjectCache<V1Pod>) | undefined;
  private readonly server: ExecServer;
  private stopped = false;
  private readonly nodeBinary: string;

  constructor(private readonly o: LabKubeletOptions) {
    this.core = o.kubeConfig.makeApiClient(CoreV1Api);
    this.nodes = new Map(o.spec.nodes.map((n) => [n.name, n]));
    this.nodeBinary = o.nodeBinary ?? process.execPath;
    this.server = new ExecServer({
      ...o.listen,
      resolve: (r) => this.execTarget(r),
      logFile: (namespace, name, container) => {
        const run = [...this.runs.values()].find((x) => x.namespace === namespace && x.name === name);
        if (!run)
          return { status: 404, message: `pod ${namespace}/${name} does not run on this lab's nodes` };
        if (run.plan.container !== container)
          return { status: 404, message: `container ${container} is not valid for pod ${namespace}/${name}` };
        return run.logFile;
      },
      healthy: o.healthy ?? (() => true),
      ...(o.log && { log: o.log }),
    });
  }

  private log(line: string): void {
    this.o.log?.(`kubelet: ${line}`);
  }

  /** Reports every node's kubelet endpoint, listens, and starts watching Pods. */
  async start(): Promise<void> {
    await this.server.start();
    const at = new Date().toISOString();
    await Promise.all(
      [...this.nodes.keys()].map(async (name) => {
        const node = await this.core.readNode({ name });
        const status = kubeletNodeStatus(node, { host: this.o.listen.host, port: this.o.listen.port }, at);
        await this.core.patchNodeStatus({ name, body: { status } }, mergePatch);
      }),
    );
    const informer = makeInformer(this.o.kubeConfig, '/api/v1/pods', () =>
      this.core.listPodForAllNamespaces(),
    );
    informer.on('add', (p) => this.seen(p));
    informer.on('update', (p) => this.seen(p));
    informer.on('delete', (p) => this.enqueue(p, () => this.gone(p)));
    informer.on('error', (e: unknown) => {
      if (this.stopped) return;
      this.log(`pod watch failed (${apiErrorText(e)}); restarting it in 1 s`);
      setTimeout(() => void (this.stopped ? undefined : informer.start().catch(() => undefined)), 1000);
    });
    await informer.start();
    this.informer = informer;
    this.log(
      `serving ${this.nodes.size} nodes, ${this.o.spec.slots.length} pod slots, https://${this.o.listen.host}:${this.o.listen.port}`,
    );
  }

  /** Stops watching and serving; stops every container (SIGTERM, then SIGKILL after 5 s). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.informer?.stop();
    await this.server.stop();
    await Promise.all([...this.runs.values()].map((r) => this.kill(r, 5)));
  }

  /** The slot a Pod (namespace/name) runs in, if it runs (tests, diagnostics). */
  slotOf(namespace: string, name: string): PodSlot | undefined {
    return [...this.runs.values()].find((r) => r.namespace === namespace && r.name === name)?.slot;
  }

  private ours(p: V1Pod): boolean {
    return this.nodes.has(p.spec?.nodeName ?? '');
  }

  private seen(p: V1Pod): void {
    if (this.ours(p)) this.enqueue(p, () => this.sync(p));
  }

  /** Work on one Pod runs in order; Pods run concurrently. */
  private enqueue(p: V1Pod, work: () => Promise<void>): void {
    const uid = p.metadata?.uid;
    if (!uid || this.stopped) return;
    const prev = this.queues.get(uid) ?? Promise.resolve();
    const next = prev
      .then(work)
      .catch((e: unknown) => this.log(`${p.metadata?.namespace}/${p.metadata?.name}: ${apiErrorText(e)}`));
    this.queues.set(uid, next);
    void next.then(() => {
      if (this.queues.get(uid) === next) this.queues.delete(uid);
    });
  }

  private async sync(pod: V1Pod): Promise<void> {
    const uid = pod.metadata!.uid!;
    const run = this.runs.get(uid);
    if (pod.metadata?.deletionTimestamp) {
      this.waiting.delete(uid);
      if (run) {
        const grace =
          pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
        await this.kill(run, grace);
        this.event(
          pod,
          'Normal',
          'Killing',
          `Stopped container ${run.plan.container} (grace period ${grace} s)`,
        );
      }
      // The kubelet's final delete: the Pod is gone from the API once its containers are.
      await this.core
        .deleteNamespacedPod({
          name: pod.metadata.name!,
          namespace: pod.metadata.namespace!,
          // With a body the apiserver reads the options from it alone (not from the query).
          gracePeriodSeconds: 0,
          body: { gracePeriodSeconds: 0, preconditions: { uid } },
        })
        .catch((e: unknown) => {
          if (apiStatus(e) !== 404 && apiStatus(e) !== 409) throw e;
        });
      return;
    }
    if (run || this.settled.has(uid)) return;
    if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
    const node = this.nodes.get(pod.spec!.nodeName!)!;
    const plan = planPod(pod);
    if (!plan.ok) {
      this.settled.add(uid);
      await this.writeStatus(pod, refusedPodStatus(node.address, plan, new Date().toISOString()));
      this.event(pod, 'Warning', IMAGE_NOT_RUNNABLE, plan.message);
      this.log(`${pod.metadata!.namespace}/${pod.metadata!.name}: refused: ${plan.message}`);
      return;
    }
    let slot: PodSlot | undefined;
    if (!pod.spec?.hostNetwork) {
      slot = chooseSlot(this.o.spec.slots, new Set(this.taken.keys()), node.name, pod.metadata!.name!);
      if (!slot) {
        const first = !this.waiting.has(uid);
        this.waiting.set(uid, pod);
        if (first) {
          const status = noSlotPodStatus(
            node.address,
            node.name,
            plan.container,
            plan.image,
            new Date().toISOString(),
          );
          await this.writeStatus(pod, status);
          this.event(pod, 'Warning', NO_FREE_SLOT, status.conditions![0]!.message!);
        }
        return;
      }
    }
    this.waiting.delete(uid);
    await this.begin(pod, node, slot, plan);
  }

  private async begin(pod: V1Pod, node: ServeNode, slot: PodSlot | undefined, plan: Agent): Promise<void> {
    const { uid, name, namespace } = pod.metadata as { uid: string; name: string; namespace: string };
    if (slot) this.taken.set(slot.name, uid);
    const dir = join(this.o.logDir, `${namespace}_${name}_${uid}`);
    await mkdir(dir, { recursive: true });
    const env: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOSTNAME: name,
      ...Object.fromEntries(
        (pod.spec!.containers[0]!.env ?? [])
          .filter((e) => e.value !== undefined)
          .map((e) => [e.name, e.value!]),
      ),
    };
    const run: PodRun = {
      uid,
      namespace,
      name,
      node,
      slot,
      hostId: slot ? slot.host : node.host,
      podIP: slot ? slot.address : node.address,
      plan,
      restartPolicy: pod.spec?.restartPolicy,
      startTime: new Date().toISOString(),
      logFile: join(dir, `${plan.container}.log`),
      child: undefined,
      state: { kind: 'waiting', reason: 'ContainerCreating' },
      last: undefined,
      restartCount: 0,
      final: false,
      stopping: false,
      timers: new Set(),
      execs: new Set(),
      env,
    };
    this.runs.set(uid, run);
    this.log(
      `${namespace}/${name} on ${node.name}: ${slot ? `slot ${slot.name} (${slot.address})` : `host network (${node.address})`}`,
    );
    await this.startContainer(run, pod);
  }

  private async startContainer(run: PodRun, pod?: V1Pod): Promise<void> {
    if (run.stopping) return;
    const argv = [this.nodeBinary, this.o.agentEntry, ...run.plan.agentArgs];
    const fd = openSync(run.logFile, 'a');
    let child: ChildProcess;
    try {
      child = trackStart(this.o.host(run.hostId).spawn(argv, { stdio: ['ignore', fd, fd], env: run.env }));
    } finally {
      closeSync(fd);
    }
    run.child = child;
    const startedAt = new Date().toISOString();
    run.state = { kind: 'running', startedAt, ready: run.plan.readiness.kind === 'running' };
    child.once('exit', (code, signal) => this.enqueueRun(run, () => this.exited(run, child, code, signal)));
    child.once('error', (e) => this.log(`${run.namespace}/${run.name}: ${e.message}`));
    if (run.plan.readiness.kind !== 'running') this.probe(run, child, run.plan.readiness);
    await this.report(run);
    const ref = pod ?? this.podRef(run);
    this.event(
      ref,
      'Normal',
      'Started',
      `Started container ${run.plan.container} (pid ${child.pid} in ${run.hostId}; output in ${run.logFile})`,
    );
  }

  private podRef(run: PodRun): V1Pod {
    return { metadata: { uid: run.uid, name: run.name, namespace: run.namespace } };
  }

  private enqueueRun(run: PodRun, work: () => Promise<void>): void {
    this.enqueue(this.podRef(run), work);
  }

  private async exited(
    run: PodRun,
    child: ChildProcess,
    code: number | null,
    signal: string | null,
  ): Promise<void> {
    if (run.stopping || run.child !== child) return;
    const exitCode = exitCodeOf(code, signal);
    const startedAt = run.state.kind === 'running' ? run.state.startedAt : run.startTime;
    const term = {
      kind: 'terminated' as const,
      exitCode,
      ...(signal && { signal }),
      startedAt,
      finishedAt: new Date().toISOString(),
    };
    run.child = undefined;
    if (restarts(run.restartPolicy, exitCode)) {
      run.last = term;
      // Counted when it starts again, as the kubelet counts.
      const wait = restartBackoffMs(run.restartCount + 1);
      run.state = {
        kind: 'waiting',
        reason: 'CrashLoopBackOff',
        message: `back-off ${wait / 1000}s restarting failed container=${run.plan.container} pod=${run.name} (exit code ${exitCode}; output in ${run.logFile})`,
      };
      await this.report(run);
      this.event(this.podRef(run), 'Warning', 'BackOff', run.state.message!);
      const timer = setTimeout(() => {
        run.timers.delete(timer);
        this.enqueueRun(run, async () => {
          if (run.stopping) return;
          run.restartCount++;
          await this.startContainer(run);
        });
      }, wait);
      run.timers.add(timer);
    } else {
      run.state = term;
      run.final = true;
      await this.report(run);
    }
  }

  /** Readiness: probe until the container exits; report each change. */
  private probe(run: PodRun, child: ChildProcess, r: Exclude<Readiness, { kind: 'running' }>): void {
    let failures = 0;
    const tick = async (): Promise<void> => {
      if (run.child !== child || run.stopping) return;
      const ok = await this.probeOnce(run, r).catch(() => false);
      if (run.child !== child || run.stopping || run.state.kind !== 'running') return;
      failures = ok ? 0 : failures + 1;
      const ready = ok ? true : failures >= r.failureThreshold ? false : run.state.ready;
      if (ready !== run.state.ready) {
        run.state = { ...run.state, ready };
        await this.report(run);
      }
      schedule(r.periodMs);
    };
    const schedule = (ms: number): void => {
      const t = setTimeout(() => {
        run.timers.delete(t);
        void tick();
      }, ms);
      run.timers.add(t);
    };
    schedule(r.initialDelayMs);
  }

  private async probeOnce(run: PodRun, r: Exclude<Readiness, { kind: 'running' }>): Promise<boolean> {
    if (r.kind === 'tcp') {
      // As the kubelet: from the node's network namespace to the pod's address; the TCP handshake
      // is the test (the agent's probe then waits for an answer: 1 ms, whatever comes).
      const argv = [
        this.nodeBinary,
        this.o.agentEntry,
        'probe',
        'tcp',
        run.podIP,
        String(r.port),
        '--deadline',
        String(Math.min(1000, r.periodMs)),
        '--answer',
        '1',
        '--json',
      ];
      const res = await this.o.host(run.node.host).run(argv, { allowFailure: true });
      return tcpProbeConnected(res.stdout);
    }
    const res = await this.o
      .host(run.hostId)
      .run(execArgv(r.command, this.o.agentEntry, this.nodeBinary), { allowFailure: true });
    return res.code === 0;
  }

  /** Stops a Pod's container and execs (SIGTERM, SIGKILL after `graceSeconds`), frees its slot. */
  private async kill(run: PodRun, graceSeconds: number): Promise<void> {
    run.stopping = true;
    for (const t of run.timers) clearTimeout(t);
    run.timers.clear();
    for (const e of run.execs) killGroup(e, 'SIGKILL');
    const child = run.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), Math.max(0, graceSeconds) * 1000);
      await exited;
      clearTimeout(timer);
    }
    run.child = undefined;
    this.runs.delete(run.uid);
    if (run.slot && this.taken.get(run.slot.name) === run.uid) this.taken.delete(run.slot.name);
    this.log(`${run.namespace}/${run.name}: stopped${run.slot ? `, slot ${run.slot.name} free` : ''}`);
    if (run.slot) this.retryWaiting(run.node.name);
  }

  /** A Pod gone from the API (deleted with grace 0, or by someone else): stop it at once. */
  private async gone(pod: V1Pod): Promise<void> {
    const uid = pod.metadata!.uid!;
    this.waiting.delete(uid);
    this.settled.delete(uid);
    const run = this.runs.get(uid);
    if (run) await this.kill(run, 0);
  }

  private retryWaiting(node: string): void {
    for (const p of this.waiting.values()) if (p.spec?.nodeName === node) this.enqueue(p, () => this.sync(p));
  }

  private async report(run: PodRun): Promise<void> {
    if (run.stopping) return;
    const status = runningPodStatus(
      { hostIP: run.node.address, podIP: run.podIP },
      {
        name: run.plan.container,
        image: run.plan.image,
        state: run.state,
        restartCount: run.restartCount,
        ...(run.last && { last: run.last }),
      },
      { startTime: run.startTime, at: new Date().toISOString(), final: run.final },
    );
    await this.writeStatus(this.podRef(run), status);
  }

  private async writeStatus(pod: V1Pod, status: V1PodStatus): Promise<void> {
    const { name, namespace } = pod.metadata as { name: string; namespace: string };
    await this.core
      .patchNamespacedPodStatus({ name, namespace, body: { status } }, mergePatch)
      .catch((e: unknown) => {
        // Gone meanwhile: its delete event frees what it held.
        if (apiStatus(e) !== 404) throw e;
      });
  }

  private event(pod: V1Pod, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const { name, namespace, uid } = pod.metadata as { name: string; namespace: string; uid: string };
    const now = new Date();
    void this.core
      .createNamespacedEvent({
        namespace,
        body: {
          metadata: { generateName: `${name}.`, namespace },
          involvedObject: { apiVersion: 'v1', kind: 'Pod', name, namespace, uid },
          reason,
          message,
          type,
          source: { component: 'kubelet', host: pod.spec?.nodeName ?? this.runs.get(uid)?.node.name ?? '' },
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
          reportingComponent: 'kubelet',
          reportingInstance: pod.spec?.nodeName ?? this.runs.get(uid)?.node.name ?? '',
        },
      })
      .catch((e: unknown) => this.log(`event ${reason} for ${namespace}/${name}: ${apiErrorText(e)}`));
  }

  private execTarget(r: ExecRequest): ExecTarget | { status: number; message: string } {
    const run = [...this.runs.values()].find((x) => x.namespace === r.namespace && x.name === r.pod);
    if (!run) return { status: 404, message: `pod ${r.namespace}/${r.pod} does not run on this lab's nodes` };
    if (run.plan.container !== r.container)
      return {
        status: 404,
        message: `container ${r.container} is not valid for pod ${r.namespace}/${r.pod}`,
      };
    if (run.state.kind !== 'running')
      return {
        status: 400,
        message: `container ${r.container} of pod ${r.namespace}/${r.pod} is not running`,
      };
    return {
      exec: this.o.host(run.hostId),
      argv: execArgv(r.command, this.o.agentEntry, this.nodeBinary),
      env: run.env,
      track: (child) => {
        run.execs.add(child);
        child.once('exit', () => run.execs.delete(child));
      },
    };
  }
}

/** Whether the agent's probe (--json) got through the TCP handshake. */
export function tcpProbeConnected(json: string): boolean {
  try {
    const batch = JSON.parse(json) as { attempts?: { outcome: string; phase?: string }[] };
    const a = batch.attempts?.[0];
    return !!a && (a.outcome === 'connected' || a.phase === 'answer');
  } catch {
    return false;
  }
}
