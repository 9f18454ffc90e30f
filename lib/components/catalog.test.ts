import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { stagingReplaces } from './catalog.js';

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
