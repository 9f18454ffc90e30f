import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { shimSockets } from './host-resources.js';
import { dockerdArgv } from './private-engine.js';

describe('engine: private dockerd', () => {
  const argv = dockerdArgv({
    binaries: { dockerd: '/c/dockerd', dockerProxy: '/c/docker-proxy', docker: '/c/docker', pathDirs: [] },
    dataDir: '/var/lib/returnpath/engines/kind-abc123',
    runDir: '/run/returnpath/engines/kind-abc123',
    cgroupParent: '/returnpath-kind-abc123',
  });
  const value = (flag: string): string | undefined => argv[argv.indexOf(flag) + 1];

  it('turns off everything that would change the host: firewall, forwarding, masquerade, docker0', () => {
    for (const f of [
      '--iptables=false',
      '--ip6tables=false',
      '--ip-forward=false',
      '--ip-masq=false',
      '--bridge=none',
    ])
      expect(argv).to.include(f);
    expect(argv.filter((a) => /^--(iptables|ip6tables|ip-forward|ip-masq)(=true)?$/.test(a))).to.deep.equal(
      [],
    );
  });

  it('keeps its state, socket, pid file, configuration and cgroups to itself', () => {
    expect(value('--data-root')).to.equal('/var/lib/returnpath/engines/kind-abc123/docker');
    expect(value('--exec-root')).to.equal('/run/returnpath/engines/kind-abc123/exec');
    expect(value('--host')).to.equal('unix:///run/returnpath/engines/kind-abc123/docker.sock');
    expect(value('--pidfile')).to.equal('/run/returnpath/engines/kind-abc123/dockerd.pid');
    expect(value('--config-file')).to.equal('/var/lib/returnpath/engines/kind-abc123/daemon.json');
    expect(value('--cgroup-parent')).to.equal('/returnpath-kind-abc123');
    expect(value('--userland-proxy-path')).to.equal('/c/docker-proxy');
  });
});

describe('engine: what a killed engine leaves', () => {
  it("names a shim's sockets as containerd does: sha256 of <address>/<namespace>/<id>", () => {
    const argv = [
      '/c/containerd-shim-runc-v2',
      '-namespace',
      'moby',
      '-id',
      'abc',
      '-address',
      '/run/returnpath/engines/kind-abc123/exec/containerd/containerd.sock',
    ];
    const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
    const base = '/run/returnpath/engines/kind-abc123/exec/containerd/containerd.sock/moby/abc';
    expect(shimSockets(argv)).to.deep.equal([
      `/run/containerd/s/${sha(base)}`,
      `/run/containerd/s/${sha(`${base}/debug`)}`,
    ]);
    expect(shimSockets(['/usr/bin/containerd'])).to.deep.equal([]);
  });
});
