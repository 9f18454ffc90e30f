import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { COMPONENTS_USAGE } from './components-command.js';
import { RUN_USAGE } from './run-command.js';

const workflow = readFileSync(new URL('../../../docs/github-actions-gate.yml', import.meta.url), 'utf8');

describe('docs/github-actions-gate.yml', () => {
  const doc = parseYaml(workflow) as {
    on: { workflow_dispatch: { inputs: Record<string, unknown> } };
    jobs: { gate: { steps: { run?: string; with?: Record<string, string> }[] } };
  };
  const steps = doc.jobs.gate.steps;
  const runs = steps.flatMap((s) => (s.run ?? '').replace(/\\\n\s*/g, ' ').split('\n'));

  it('uses only inputs it defines', () => {
    const defined = Object.keys(doc.on.workflow_dispatch.inputs);
    for (const m of workflow.matchAll(/inputs\.([\w-]+)/g)) expect(defined, m[0]).to.include(m[1]);
  });

  it('builds both sides from source and gates the head against the base with --baseline', () => {
    const rp = runs.filter((l) => l.trim().startsWith('$RP ')).map((l) => l.trim().slice(4));
    expect(rp.filter((l) => /^components build vpc-cni --source /.test(l))).to.have.length(2);
    const gate = rp.find((l) => l.includes('--baseline'))!;
    expect(gate).to.match(
      /^run .*--cni-bin "\$RUNNER_TEMP\/cni-head".*--baseline "\$RESULTS\/base\/results.json"/,
    );
    // Every option the workflow passes is one the commands take.
    for (const l of rp) {
      const usage = l.startsWith('run ')
        ? RUN_USAGE
        : l.startsWith('components ')
          ? COMPONENTS_USAGE
          : 'lab clean';
      for (const flag of l.match(/--[\w-]+/g) ?? []) expect(usage, `${flag} in "${l}"`).to.include(flag);
    }
  });
});
