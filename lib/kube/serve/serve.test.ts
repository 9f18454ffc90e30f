import { expect } from 'chai';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { loadTopology } from '../../model/topology.js';
import { REPO } from '../../cli/cli-test-support.js';
import { serveObjects } from '../objects.js';
import {
  CLOSE,
  ERROR,
  exitStatus,
  frame,
  parseClientFrame,
  parseExecUrl,
  pickProtocol,
  STDIN,
  V4,
  V5,
} from './channels.js';
import { tcpProbeConnected } from './kubelet.js';
import { kubeletNodeStatus, WEBSOCKET_FEATURE } from './node-status.js';
import {
  execArgv,
  exitCodeOf,
  IMAGE_NOT_RUNNABLE,
  noSlotPodStatus,
  planPod,
  refusedPodStatus,
  restartBackoffMs,
  restarts,
  runningPodStatus,
} from './pod-status.js';
import { chooseSlot, serveSpec, type PodSlot } from './spec.js';

const AT = '2026-01-01T00:00:00.000Z';
const pod = (container: Record<string, unknown>, spec: Record<string, unknown> = {}): V1Pod =>
  ({
    metadata: { name: 'p', namespace: 'default' },
    spec: { nodeName: 'node-a', containers: [{ name: 'app', ...container }], ...spec },
  }) as V1Pod;

describe('serve mode: pod slots', () => {
  const slots: PodSlot[] = [
    { name: 'web-1', node: 'node-a', address: '10.0.1.50', host: 'pod/web-1' },
    { name: 'web-2', node: 'node-b', address: '10.0.2.60', host: 'pod/web-2' },
    { name: 'client-a', node: 'node-a', address: '10.0.1.70', host: 'pod/client-a' },
  ];

  it('gives a Pod the slot of the same name, else its node’s first free slot, else none', () => {
    expect(chooseSlot(slots, new Set(), 'node-a', 'client-a')?.name).to.equal('client-a');
    expect(chooseSlot(slots, new Set(), 'node-a', 'anything')?.name).to.equal('web-1');
    expect(chooseSlot(slots, new Set(['web-1']), 'node-a', 'web-1')?.name).to.equal('client-a');
    expect(chooseSlot(slots, new Set(['web-1', 'client-a']), 'node-a', 'x')).to.equal(undefined);
    // Never another node's slot.
    expect(chooseSlot(slots, new Set(), 'node-b', 'client-a')?.name).to.equal('web-2');
    expect(chooseSlot(slots, new Set(), 'node-c', 'web-1')).to.equal(undefined);
  });

  it("describes a topology's nodes and slots in topology order", async () => {
    const t = await loadTopology(`${REPO}examples/seed-003-baseline.yaml`);
    const s = serveSpec('abc123', t);
    expect(s.nodes.map((n) => `${n.name} ${n.address} ${n.host}`)).to.deep.equal([
      'node-a 10.0.1.10 node/node-a',
      'node-b 10.0.2.10 node/node-b',
      'node-c 10.0.1.11 node/node-c',
    ]);
    expect(s.slots.map((p) => `${p.name}@${p.node} ${p.address}`)).to.deep.equal([
      'web-1@node-a 10.0.1.50',
      'web-2@node-b 10.0.2.60',
      'client-a@node-a 10.0.1.70',
      'client-b@node-b 10.0.2.71',
      'other-net@node-c 10.0.1.80',
    ]);
    // Serve mode registers the Nodes (and the Service range), no Pods or Services.
    const o = serveObjects(t, { owner: 'abc123' });
    expect(o.nodes.map((n) => n.metadata?.name)).to.deep.equal(['node-a', 'node-b', 'node-c']);
    expect(o.pods).to.deep.equal([]);
    expect(o.services).to.deep.equal([]);
    expect(o.serviceCIDRs.map((c) => c.spec?.cidrs)).to.deep.equal([[t.serviceCIDR.text]]);
  });
});

describe('serve mode: what the lab kubelet runs', () => {
  it('runs the agent image: command returnpath-agent ARGS, or its entrypoint with args', () => {
    expect(
      planPod(pod({ image: 'returnpath/agent:0.1.0', command: ['returnpath-agent', 'hold'] })),
    ).to.deep.include({
      ok: true,
      agentArgs: ['hold'],
      readiness: { kind: 'running' },
    });
    expect(
      planPod(pod({ image: 'ghcr.io/x/returnpath/agent:1', args: ['serve', 'tcp', '80'] })),
    ).to.deep.include({
      ok: false,
    });
    expect(
      planPod(pod({ image: 'registry:5000/returnpath/agent:1', args: ['serve', 'tcp', '80'] })),
    ).to.deep.include({
      ok: true,
      agentArgs: ['serve', 'tcp', '80'],
    });
  });

  it('refuses other images, commands and shapes, saying why', () => {
    const nginx = planPod(pod({ image: 'nginx:1.27' }));
    expect(nginx.ok).to.equal(false);
    expect(nginx.ok === false && nginx.message)
      .to.contain('"nginx:1.27"')
      .and.contain('returnpath/agent');
    const sh = planPod(pod({ image: 'returnpath/agent:0.1.0', command: ['sh', '-c', 'sleep 1'] }));
    expect(sh.ok === false && sh.message).to.contain('["sh","-c","sleep 1"]');
    const two = planPod({
      spec: {
        containers: [
          { name: 'a', image: 'returnpath/agent:1' },
          { name: 'b', image: 'returnpath/agent:1' },
        ],
      },
    });
    expect(two.ok === false && two.message).to.contain('one container');
  });

  it('reads tcpSocket (by number or port name) and exec readiness probes', () => {
    const tcp = planPod(
      pod({
        image: 'returnpath/agent:1',
        ports: [{ name: 'http', containerPort: 8080 }],
        readinessProbe: { tcpSocket: { port: 'http' }, periodSeconds: 2, failureThreshold: 1 },
      }),
    );
    expect(tcp.ok && tcp.readiness).to.deep.equal({
      kind: 'tcp',
      port: 8080,
      periodMs: 2000,
      initialDelayMs: 0,
      failureThreshold: 1,
    });
    const ex = planPod(pod({ image: 'returnpath/agent:1', readinessProbe: { exec: { command: ['true'] } } }));
    expect(ex.ok && ex.readiness).to.deep.include({ kind: 'exec', command: ['true'], periodMs: 10_000 });
  });

  it('maps returnpath-agent in exec commands to this build; other commands run as given', () => {
    expect(
      execArgv(['returnpath-agent', 'version'], '/x/bin/returnpath-agent.js', '/usr/bin/node'),
    ).to.deep.equal(['/usr/bin/node', '/x/bin/returnpath-agent.js', 'version']);
    expect(execArgv(['iptables-save', '-c'], '/a', '/n')).to.deep.equal(['iptables-save', '-c']);
  });

  it('restarts by policy, with a growing, bounded backoff', () => {
    expect(
      [undefined, 'Always', 'OnFailure', 'Never'].map((p) => [restarts(p, 0), restarts(p, 1)]),
    ).to.deep.equal([
      [true, true],
      [true, true],
      [false, true],
      [false, false],
    ]);
    expect([1, 2, 3, 6, 20].map(restartBackoffMs)).to.deep.equal([1000, 2000, 4000, 30_000, 30_000]);
    expect(exitCodeOf(3, null)).to.equal(3);
    expect(exitCodeOf(null, 'SIGKILL')).to.equal(137);
    expect(exitCodeOf(null, 'SIGTERM')).to.equal(143);
  });
});

describe('serve mode: the status the lab kubelet writes', () => {
  const placement = { hostIP: '10.0.1.10', podIP: '10.0.1.50' };
  const cond = (s: { conditions?: { type: string; status: string }[] }, type: string) =>
    s.conditions?.find((c) => c.type === type)?.status;

  it('Running and Ready, with addresses and the container running', () => {
    const s = runningPodStatus(
      placement,
      {
        name: 'app',
        image: 'returnpath/agent:1',
        state: { kind: 'running', startedAt: AT, ready: true },
        restartCount: 0,
      },
      { startTime: AT, at: AT, final: false },
    );
    expect(s).to.deep.include({
      phase: 'Running',
      hostIP: '10.0.1.10',
      podIP: '10.0.1.50',
      qosClass: 'BestEffort',
    });
    expect(s.podIPs).to.deep.equal([{ ip: '10.0.1.50' }]);
    expect(cond(s, 'Ready')).to.equal('True');
    expect(cond(s, 'ContainersReady')).to.equal('True');
    expect(s.containerStatuses?.[0]).to.deep.include({ ready: true, started: true, restartCount: 0 });
    expect(s.containerStatuses?.[0]?.state).to.deep.equal({ running: { startedAt: AT } });
  });

  it('in back-off after an exit: Running, not Ready, waiting, with the last exit', () => {
    const s = runningPodStatus(
      placement,
      {
        name: 'app',
        image: 'returnpath/agent:1',
        state: { kind: 'waiting', reason: 'CrashLoopBackOff', message: 'back-off 1s' },
        restartCount: 2,
        last: { kind: 'terminated', exitCode: 2, startedAt: AT, finishedAt: AT },
      },
      { startTime: AT, at: AT, final: false },
    );
    expect(s.phase).to.equal('Running');
    expect(cond(s, 'Ready')).to.equal('False');
    expect(s.containerStatuses?.[0]?.state?.waiting).to.deep.equal({
      reason: 'CrashLoopBackOff',
      message: 'back-off 1s',
    });
    expect(s.containerStatuses?.[0]?.lastState?.terminated).to.deep.include({ exitCode: 2, reason: 'Error' });
    expect(s.containerStatuses?.[0]?.restartCount).to.equal(2);
  });

  it('Succeeded or Failed once it exits for good', () => {
    const end = (exitCode: number, signal?: string) =>
      runningPodStatus(
        placement,
        {
          name: 'app',
          image: 'i',
          state: { kind: 'terminated', exitCode, ...(signal && { signal }), startedAt: AT, finishedAt: AT },
          restartCount: 0,
        },
        { startTime: AT, at: AT, final: true },
      );
    expect(end(0).phase).to.equal('Succeeded');
    expect(end(0).containerStatuses?.[0]?.state?.terminated).to.deep.include({
      exitCode: 0,
      reason: 'Completed',
    });
    expect(end(137, 'SIGKILL').phase).to.equal('Failed');
    expect(end(137, 'SIGKILL').containerStatuses?.[0]?.state?.terminated).to.deep.include({
      exitCode: 137,
      signal: 9,
    });
  });

  it('refused: Failed with reason ImageNotRunnableInLab; no slot: Pending with NoFreePodSlot', () => {
    const r = refusedPodStatus('10.0.2.10', { container: 'app', image: 'nginx', message: 'why' }, AT);
    expect(r).to.deep.include({
      phase: 'Failed',
      reason: IMAGE_NOT_RUNNABLE,
      message: 'why',
      hostIP: '10.0.2.10',
    });
    expect(r.containerStatuses?.[0]?.state?.waiting).to.deep.equal({
      reason: IMAGE_NOT_RUNNABLE,
      message: 'why',
    });
    const n = noSlotPodStatus('10.0.1.11', 'node-c', 'app', 'returnpath/agent:1', AT);
    expect(n.phase).to.equal('Pending');
    expect(n.conditions?.find((c) => c.type === 'PodReadyToStartContainers')).to.deep.include({
      status: 'False',
      reason: 'NoFreePodSlot',
    });
    expect(n.conditions?.[0]?.message).to.contain('node-c');
  });

  it("the Node: the kubelet's loopback address as InternalDNS, its port, the WebSocket feature, Ready", () => {
    const node: V1Node = {
      metadata: { name: 'node-a' },
      status: {
        addresses: [
          { type: 'InternalIP', address: '10.0.1.10' },
          { type: 'InternalDNS', address: '127.1.2.9' },
          { type: 'Hostname', address: 'node-a' },
        ],
        conditions: [
          { type: 'Ready', status: 'True', lastTransitionTime: '2025-01-01T00:00:00Z' as unknown as Date },
        ],
      },
    };
    const s = kubeletNodeStatus(node, { host: '127.1.2.2', port: 10250 }, AT);
    expect(s.addresses).to.deep.equal([
      { type: 'InternalIP', address: '10.0.1.10' },
      { type: 'Hostname', address: 'node-a' },
      { type: 'InternalDNS', address: '127.1.2.2' },
    ]);
    expect(s.daemonEndpoints).to.deep.equal({ kubeletEndpoint: { Port: 10250 } });
    expect(s.declaredFeatures).to.deep.equal([WEBSOCKET_FEATURE]);
    expect(s.conditions).to.have.length(1);
    expect(s.conditions[0]).to.deep.include({
      type: 'Ready',
      status: 'True',
      lastHeartbeatTime: AT,
      lastTransitionTime: '2025-01-01T00:00:00Z',
    });
  });

  it('reads the TCP handshake off the agent probe', () => {
    const one = (a: object) => JSON.stringify({ attempts: [a] });
    expect(tcpProbeConnected(one({ outcome: 'connected', phase: 'answer' }))).to.equal(true);
    expect(tcpProbeConnected(one({ outcome: 'timeout', phase: 'answer', connectMs: 1 }))).to.equal(true);
    expect(tcpProbeConnected(one({ outcome: 'refused', phase: 'connect' }))).to.equal(false);
    expect(tcpProbeConnected(one({ outcome: 'timeout', phase: 'connect' }))).to.equal(false);
    expect(tcpProbeConnected('')).to.equal(false);
  });
});

describe('serve mode: the exec protocol (remote command over WebSocket)', () => {
  it('picks v5, else v4, else nothing', () => {
    expect(pickProtocol([V4, V5, 'channel.k8s.io'])).to.equal(V5);
    expect(pickProtocol(['v3.channel.k8s.io', V4])).to.equal(V4);
    expect(pickProtocol(['channel.k8s.io', 'base64.channel.k8s.io'])).to.equal(undefined);
  });

  it('frames a channel byte before the data', () => {
    expect([...frame(1, 'hi')]).to.deep.equal([1, 104, 105]);
    expect([...frame(ERROR, Buffer.alloc(0))]).to.deep.equal([3]);
  });

  it("reads the client's frames: stdin data; v5's close of a stream; v4 has no close", () => {
    expect(parseClientFrame(Buffer.from([0, 120]), V5)).to.deep.equal({
      kind: 'data',
      channel: STDIN,
      data: Buffer.from('x'),
    });
    expect(parseClientFrame(Buffer.from([CLOSE, STDIN]), V5)).to.deep.equal({
      kind: 'close',
      channel: STDIN,
    });
    expect(parseClientFrame(Buffer.from([CLOSE, 0, 0]), V5)).to.deep.include({ kind: 'invalid' });
    expect(parseClientFrame(Buffer.from([CLOSE, STDIN]), V4)).to.deep.equal({
      kind: 'data',
      channel: CLOSE,
      data: Buffer.from([0]),
    });
    expect(parseClientFrame(Buffer.alloc(0), V5)).to.equal(undefined);
  });

  it('writes the status as the kubelet does: Success, or NonZeroExitCode with the code as a cause', () => {
    expect(exitStatus(0)).to.deep.equal({ metadata: {}, status: 'Success' });
    expect(exitStatus(7)).to.deep.equal({
      metadata: {},
      status: 'Failure',
      message: 'command terminated with non-zero exit code: exit status 7',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '7' }] },
    });
  });

  it('parses the exec URL the apiserver sends', () => {
    expect(
      parseExecUrl(
        '/exec/default/web-1/app?command=sh&command=-c&command=echo%20hi&input=1&output=1&error=1',
      ),
    ).to.deep.equal({
      namespace: 'default',
      pod: 'web-1',
      container: 'app',
      command: ['sh', '-c', 'echo hi'],
      stdin: true,
      stdout: true,
      stderr: true,
      tty: false,
    });
    expect(parseExecUrl('/exec/default/web-1/app')).to.equal('no command given (command=...)');
    expect(parseExecUrl('/attach/default/web-1/app?command=x')).to.contain(
      'not /exec/NAMESPACE/POD/CONTAINER',
    );
  });
});
