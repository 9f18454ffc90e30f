import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { criBaseSpec, forceRestrictOomScoreAdj } from './kind-base-image.js';
import { planImages, setSandboxImage } from './kind-node-image.js';
import { pauseTag } from './pause.js';

const testdata = (f: string): Promise<string> =>
  readFile(new URL(`../../../lib/components/testdata/${f}`, import.meta.url), 'utf8');

/** `kubeadm config images list --kubernetes-version v1.36.3` as kubeadm v1.36.3 prints it. */
const KUBEADM_1_36_3 = [
  'registry.k8s.io/kube-apiserver:v1.36.3',
  'registry.k8s.io/kube-controller-manager:v1.36.3',
  'registry.k8s.io/kube-scheduler:v1.36.3',
  'registry.k8s.io/kube-proxy:v1.36.3',
  'registry.k8s.io/coredns/coredns:v1.14.2',
  'registry.k8s.io/pause:3.10.2',
  'registry.k8s.io/etcd:3.6.8-0',
];

const BINS = {
  kubernetes: '/c/kubernetes/bin',
  etcd: '/c/etcd/bin/etcd',
  etcdVersion: 'v3.6.8',
  coredns: '/c/coredns/bin/coredns',
  corednsVersion: 'v1.14.2',
};

describe('components: kind node image', () => {
  it("changes only restrict_oom_score_adj in kind's containerd config, then the sandbox image", async () => {
    const original = await testdata('kind-v0.33.0-containerd-config.toml');
    const forced = forceRestrictOomScoreAdj(original);
    expect(forced).to.match(/^\s*restrict_oom_score_adj = true$/m);
    expect(forced.split('\n').filter((l, i) => l !== original.split('\n')[i])).to.have.length(1);
    const withPause = setSandboxImage(forced, 'registry.k8s.io/pause:3.10.2');
    expect(withPause).to.match(/^\s*sandbox_image = "registry.k8s.io\/pause:3.10.2"$/m);
    expect(() => forceRestrictOomScoreAdj('version = 2\n')).to.throw(/restrict_oom_score_adj/);
    expect(() => setSandboxImage('version = 2\n', 'x')).to.throw(/sandbox_image/);
  });

  it("writes kind's cri-base.json: ctr's default spec, the mount-product-files hook, no rlimits", async () => {
    const spec = JSON.parse(criBaseSpec(await testdata('ctr-oci-spec.json'))) as {
      hooks: { createContainer: { path: string }[] };
      process: Record<string, unknown>;
    };
    expect(spec.hooks.createContainer).to.deep.equal([{ path: '/kind/bin/mount-product-files.sh' }]);
    expect(spec.process).to.not.have.property('rlimits');
    expect(spec.process).to.have.property('capabilities');
  });

  it('plans one image per kubeadm image, tagged as kubeadm lists it, pause as the sandbox image', () => {
    const plans = planImages(KUBEADM_1_36_3, BINS, { bin: '/c/pause/bin/pause', tag: '3.10.2' });
    expect(plans.map((p) => p.ref).sort()).to.deep.equal([...KUBEADM_1_36_3].sort());
    const byRef = new Map(plans.map((p) => [p.ref, p]));
    expect(byRef.get('registry.k8s.io/kube-proxy:v1.36.3')!.base).to.equal('netfilter');
    expect(byRef.get('registry.k8s.io/kube-apiserver:v1.36.3')!.binary).to.deep.equal({
      from: '/c/kubernetes/bin/kube-apiserver',
      to: '/usr/local/bin/kube-apiserver',
    });
    expect(byRef.get('registry.k8s.io/etcd:3.6.8-0')!.binary.from).to.equal('/c/etcd/bin/etcd');
    expect(byRef.get('registry.k8s.io/coredns/coredns:v1.14.2')!.entrypoint).to.deep.equal(['/coredns']);
    expect(byRef.get('registry.k8s.io/pause:3.10.2')!.user).to.equal('65535:65535');
  });

  it('refuses a kubeadm that expects another etcd or CoreDNS than versions.ts pins, or an image it cannot build', () => {
    const pause = { bin: '/p', tag: '3.10.2' };
    expect(() => planImages(KUBEADM_1_36_3, { ...BINS, etcdVersion: 'v3.6.9' }, pause)).to.throw(
      'kubeadm expects etcd 3.6.8-0; versions.ts pins etcd v3.6.9',
    );
    expect(() => planImages(KUBEADM_1_36_3, { ...BINS, corednsVersion: 'v1.14.3' }, pause)).to.throw(
      'kubeadm expects CoreDNS v1.14.2; versions.ts pins CoreDNS v1.14.3',
    );
    expect(() => planImages(['registry.k8s.io/kube-foo:v1'], BINS, pause)).to.throw('does not build');
  });

  it("reads the pause tag from Kubernetes' build/pause/Makefile", () => {
    expect(pauseTag('REGISTRY ?= x\nTAG ?= 3.10.2\nREV = $(shell git describe)\n')).to.equal('3.10.2');
    expect(() => pauseTag('nothing')).to.throw('TAG');
  });
});
