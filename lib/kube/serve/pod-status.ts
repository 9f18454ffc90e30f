/**
 * The lab kubelet's decisions and reports as plain data (pure, unit-tested): which Pods it can run
 * (the agent image only: it runs returnpath-agent itself, never pulls an image) and the status it
 * writes for each state of a Pod.
 */
import type {
  V1Container,
  V1ContainerStatus,
  V1Pod,
  V1PodCondition,
  V1PodStatus,
} from '@kubernetes/client-node';
import { AGENT_COMMAND } from '../../cluster/agent-cli.js';

/** Why a Pod is refused (Pod status reason, container waiting reason, Event reason). */
export const IMAGE_NOT_RUNNABLE = 'ImageNotRunnableInLab';
/** A Pod bound to a node whose pod slots are all taken (condition and Event reason). */
export const NO_FREE_SLOT = 'NoFreePodSlot';
/** The agent image: `returnpath/agent:<version>`, any registry prefix, tag or digest. */
export const AGENT_IMAGE =
  /^(?:[a-z0-9.-]+(?::\d+)?\/)?returnpath\/agent(?::[\w.-]+)?(?:@sha256:[0-9a-f]{64})?$/;

/** What the lab runs for a Pod, or why it cannot. */
export type PodPlan =
  | { ok: true; container: string; image: string; agentArgs: string[]; readiness: Readiness }
  | { ok: false; container: string; image: string; message: string };

export type Readiness =
  | { kind: 'running' }
  | { kind: 'tcp'; port: number; periodMs: number; initialDelayMs: number; failureThreshold: number }
  | { kind: 'exec'; command: string[]; periodMs: number; initialDelayMs: number; failureThreshold: number };

export function planPod(pod: V1Pod): PodPlan {
  const containers = pod.spec?.containers ?? [];
  const c: V1Container | undefined = containers[0];
  const container = c?.name ?? 'app';
  const image = c?.image ?? '';
  const refuse = (message: string): PodPlan => ({ ok: false, container, image, message });
  if (containers.length !== 1)
    return refuse(`the lab kubelet runs Pods of one container; this one has ${containers.length}`);
  if ((pod.spec?.initContainers ?? []).length > 0) return refuse('the lab kubelet runs no init containers');
  if (!AGENT_IMAGE.test(image))
    return refuse(
      `image ${JSON.stringify(image)} cannot run in the lab: its kubelet pulls no image and runs only ` +
        `returnpath/agent:<version> (command ${AGENT_COMMAND} ...)`,
    );
  const command = c!.command ?? [];
  const args = c!.args ?? [];
  // No command: the image's entrypoint, returnpath-agent.
  if (command.length > 0 && command[0] !== AGENT_COMMAND)
    return refuse(
      `command ${JSON.stringify(command)} cannot run in the lab: the agent image runs ${AGENT_COMMAND} ARGS`,
    );
  return {
    ok: true,
    container,
    image,
    agentArgs: [...command.slice(1), ...args],
    readiness: readinessOf(c!),
  };
}

function readinessOf(c: V1Container): Readiness {
  const p = c.readinessProbe;
  if (!p) return { kind: 'running' };
  const timing = {
    periodMs: Math.max(1, p.periodSeconds ?? 10) * 1000,
    initialDelayMs: Math.max(0, p.initialDelaySeconds ?? 0) * 1000,
    failureThreshold: Math.max(1, p.failureThreshold ?? 3),
  };
  if (p.tcpSocket) {
    const port = resolvePort(c, p.tcpSocket.port);
    if (port !== undefined) return { kind: 'tcp', port, ...timing };
  }
  if (p.exec?.command?.length) return { kind: 'exec', command: p.exec.command, ...timing };
  return { kind: 'running' };
}

/** A probe's port: a number, or the name of a container port. */
function resolvePort(c: V1Container, port: number | string | object): number | undefined {
  if (typeof port === 'number') return port;
  if (typeof port === 'string') {
    if (/^\d+$/.test(port)) return Number(port);
    return c.ports?.find((p) => p.name === port)?.containerPort;
  }
  return undefined;
}

/** The argv a command of `exec` runs: returnpath-agent is the node's build of it; others as given. */
export function execArgv(command: readonly string[], agentEntry: string, nodeBinary: string): string[] {
  if (command[0] === AGENT_COMMAND) return [nodeBinary, agentEntry, ...command.slice(1)];
  return [...command];
}

export interface Placement {
  hostIP: string;
  podIP: string;
}

/** The container's state, as the kubelet tracks it. */
export type ContainerState =
  | { kind: 'running'; startedAt: string; ready: boolean }
  | { kind: 'waiting'; reason: string; message?: string }
  | { kind: 'terminated'; exitCode: number; signal?: string; startedAt: string; finishedAt: string };

export interface ContainerReport {
  name: string;
  image: string;
  state: ContainerState;
  restartCount: number;
  /** The previous run, once it restarted. */
  last?: Extract<ContainerState, { kind: 'terminated' }>;
}

function conditions(
  at: string,
  o: { initialized: boolean; started: boolean; ready: boolean },
): V1PodCondition[] {
  const t = at as unknown as Date;
  const b = (v: boolean): string => (v ? 'True' : 'False');
  return [
    { type: 'PodReadyToStartContainers', status: b(o.started), lastTransitionTime: t },
    { type: 'Initialized', status: b(o.initialized), lastTransitionTime: t },
    { type: 'Ready', status: b(o.ready), lastTransitionTime: t },
    { type: 'ContainersReady', status: b(o.ready), lastTransitionTime: t },
    { type: 'PodScheduled', status: 'True', lastTransitionTime: t },
  ];
}

function terminated(
  s: Extract<ContainerState, { kind: 'terminated' }>,
): NonNullable<V1ContainerStatus['state']> {
  return {
    terminated: {
      exitCode: s.exitCode,
      reason: s.exitCode === 0 ? 'Completed' : 'Error',
      ...(s.signal && { signal: signalNumber(s.signal), message: `killed by ${s.signal}` }),
      startedAt: s.startedAt as unknown as Date,
      finishedAt: s.finishedAt as unknown as Date,
    },
  };
}

const SIGNALS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGTERM: 15,
  SIGABRT: 6,
};
function signalNumber(s: string): number {
  return SIGNALS[s] ?? 0;
}

/** The exit code a container runtime reports for a process killed by `signal` (128 + n). */
export function exitCodeOf(code: number | null, signal: string | null): number {
  return code ?? 128 + signalNumber(signal ?? '');
}

/**
 * The status of a Pod the kubelet runs (or ran): phase from the container and restart policy,
 * conditions, addresses, the container's status.
 */
export function runningPodStatus(
  placement: Placement,
  c: ContainerReport,
  /** final: the container exited and will not be restarted (restart policy). */
  o: { startTime: string; at: string; final: boolean },
): V1PodStatus {
  const ready = c.state.kind === 'running' && c.state.ready;
  const state: V1ContainerStatus['state'] =
    c.state.kind === 'running'
      ? { running: { startedAt: c.state.startedAt as unknown as Date } }
      : c.state.kind === 'waiting'
        ? { waiting: { reason: c.state.reason, ...(c.state.message && { message: c.state.message }) } }
        : terminated(c.state);
  const phase =
    c.state.kind === 'terminated' && o.final ? (c.state.exitCode === 0 ? 'Succeeded' : 'Failed') : 'Running';
  return {
    phase,
    hostIP: placement.hostIP,
    hostIPs: [{ ip: placement.hostIP }],
    podIP: placement.podIP,
    podIPs: [{ ip: placement.podIP }],
    startTime: o.startTime as unknown as Date,
    qosClass: 'BestEffort',
    conditions: conditions(o.at, { initialized: true, started: true, ready }),
    containerStatuses: [
      {
        name: c.name,
        image: c.image,
        imageID: '',
        containerID: '',
        ready,
        started: c.state.kind === 'running',
        restartCount: c.restartCount,
        state,
        ...(c.last && { lastState: terminated(c.last) }),
      },
    ],
  };
}

/** Whether a container that exited with `exitCode` is restarted under `restartPolicy` (default Always). */
export function restarts(restartPolicy: string | undefined, exitCode: number): boolean {
  if (restartPolicy === 'Never') return false;
  if (restartPolicy === 'OnFailure') return exitCode !== 0;
  return true;
}

/** The kubelet's restart backoff in the lab: 1 s, doubling, at most 30 s (upstream: 10 s to 5 min). */
export function restartBackoffMs(restartCount: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.max(0, restartCount - 1));
}

/** A Pod the lab cannot run: Failed, with the reason and message on the Pod and its container. */
export function refusedPodStatus(
  hostIP: string,
  plan: { container: string; image: string; message: string },
  at: string,
): V1PodStatus {
  return {
    phase: 'Failed',
    reason: IMAGE_NOT_RUNNABLE,
    message: plan.message,
    hostIP,
    hostIPs: [{ ip: hostIP }],
    startTime: at as unknown as Date,
    qosClass: 'BestEffort',
    conditions: conditions(at, { initialized: true, started: false, ready: false }),
    containerStatuses: [
      {
        name: plan.container,
        image: plan.image,
        imageID: '',
        ready: false,
        started: false,
        restartCount: 0,
        state: { waiting: { reason: IMAGE_NOT_RUNNABLE, message: plan.message } },
      },
    ],
  };
}

/** A Pod waiting for a free slot of its node: Pending, with a condition saying so. */
export function noSlotPodStatus(
  hostIP: string,
  node: string,
  container: string,
  image: string,
  at: string,
): V1PodStatus {
  const message = `every pod slot of lab node ${node} is taken (the slots are the topology's pods on it); waiting for one to free`;
  const t = at as unknown as Date;
  return {
    phase: 'Pending',
    hostIP,
    hostIPs: [{ ip: hostIP }],
    qosClass: 'BestEffort',
    conditions: [
      {
        type: 'PodReadyToStartContainers',
        status: 'False',
        reason: NO_FREE_SLOT,
        message,
        lastTransitionTime: t,
      },
      { type: 'Initialized', status: 'True', lastTransitionTime: t },
      { type: 'Ready', status: 'False', reason: NO_FREE_SLOT, message, lastTransitionTime: t },
      { type: 'ContainersReady', status: 'False', reason: NO_FREE_SLOT, lastTransitionTime: t },
      { type: 'PodScheduled', status: 'True', lastTransitionTime: t },
    ],
    containerStatuses: [
      {
        name: container,
        image,
        imageID: '',
        ready: false,
        started: false,
        restartCount: 0,
        state: { waiting: { reason: 'ContainerCreating', message } },
      },
    ],
  };
}
