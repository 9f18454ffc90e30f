/**
 * kube-proxy as the DaemonSet pod it is on EKS: when one of a serve-mode lab's kube-proxies exits,
 * the lab's kubelet starts it again with the same command line and log, as a kubelet restarts a
 * DaemonSet's pod (restartPolicy Always). Each restart is written to its log. `lab down` stops them
 * with the rest of the node's namespace (after this controller).
 */
import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, openSync } from 'node:fs';
import { identityAlive, processStartTime, type ProcessIdentity } from '../../exec/process-identity.js';

/** One node's kube-proxy as `lab up --serve` started it (serve.json). */
export interface KubeProxyPod extends ProcessIdentity {
  node: string;
  /** Its whole command line (nsenter into the node's namespace, then kube-proxy). */
  argv: string[];
  logFile: string;
}

export class KubeProxyPods {
  private timer: NodeJS.Timeout | undefined;
  private readonly pods: KubeProxyPod[];
  readonly restarts = new Map<string, number>();

  constructor(
    pods: readonly KubeProxyPod[],
    private readonly log: (line: string) => void,
    private readonly intervalMs = 500,
  ) {
    this.pods = pods.map((p) => ({ ...p }));
  }

  start(): Promise<void> {
    this.timer = setInterval(() => this.check(), this.intervalMs);
    return Promise.resolve();
  }

  stop(): Promise<void> {
    clearInterval(this.timer);
    return Promise.resolve();
  }

  /** Restarts every kube-proxy that is no longer running. */
  check(): void {
    for (const p of this.pods) {
      if (identityAlive(p)) continue;
      const n = (this.restarts.get(p.node) ?? 0) + 1;
      this.restarts.set(p.node, n);
      const line = `returnpath: kube-proxy on ${p.node} (pid ${p.pid}) is not running; the lab kubelet restarts it (restart ${n}), as a kubelet restarts a DaemonSet's pod`;
      appendFileSync(p.logFile, `${line}\n`);
      const fd = openSync(p.logFile, 'a');
      try {
        const child = spawn(p.argv[0]!, p.argv.slice(1), { detached: true, stdio: ['ignore', fd, fd] });
        child.unref();
        p.pid = child.pid ?? 0;
        p.startTime = processStartTime(p.pid) ?? 0;
      } finally {
        closeSync(fd);
      }
      this.log(line);
    }
  }
}
