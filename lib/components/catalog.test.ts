import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { ValidationError } from '../errors.js';
import {
  COMPONENTS,
  componentsNamed,
  kindKubernetes,
  kubernetes,
  kubernetesComponent,
  stagingReplaces,
} from './catalog.js';
import { VERSIONS } from './versions.js';

describe('components: Kubernetes wrapper module', () => {
  it('maps every staging module to its published version, except the one the proxy lacks', async () => {
    const goMod = await readFile(
      new URL('../../../lib/components/testdata/kubernetes-v1.36.3.go.mod', import.meta.url),
      'utf8',
    );
    const lines = stagingReplaces(goMod, 'v1.36.3');
    expect(lines).to.include('replace k8s.io/api => k8s.io/api v0.36.3');
    expect(lines).to.include('replace k8s.io/client-go => k8s.io/client-go v0.36.3');
    expect(lines.some((l) => l.includes('sample-cli-plugin'))).to.equal(false);
    const staging = goMod.match(/=> \.\/staging\//g)?.length ?? 0;
    expect(lines).to.have.length(staging - 1);
    expect(lines.every((l) => /^replace (\S+) => \1 v0\.36\.3$/.test(l))).to.equal(true);
  });
});

describe('components: catalog', () => {
  it("builds Kubernetes once for the lab and kind when they pin the same version, with kind's node binaries", () => {
    expect(kubernetesComponent(VERSIONS.kubernetes)).to.equal(kubernetes);
    expect(kindKubernetes).to.equal(kubernetesComponent(VERSIONS.kindKubernetes));
    expect(kindKubernetes.files).to.include.members([
      'bin/kubelet',
      'bin/kubeadm',
      'bin/kubectl',
      'bin/kube-scheduler',
    ]);
    expect(COMPONENTS.filter((c) => c.name === 'kubernetes')).to.have.length(
      VERSIONS.kubernetes === VERSIONS.kindKubernetes ? 1 : 2,
    );
    expect(componentsNamed('kubernetes')).to.include(kindKubernetes);
  });

  it('lists the kind components after what they are built from', () => {
    const names = COMPONENTS.map((c) => c.name);
    for (const c of COMPONENTS)
      for (const d of c.dependencies ?? [])
        expect(names.indexOf(d.name), `${d.name} before ${c.name}`).to.be.lessThan(names.indexOf(c.name));
    expect(names).to.include.members([
      'engine',
      'runc',
      'docker-cli',
      'kind',
      'coredns',
      'pause',
      'kind-base',
      'kind-node',
    ]);
    expect(() => componentsNamed('nope')).to.throw(ValidationError);
  });
});
