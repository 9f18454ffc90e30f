import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { CommandDecl } from './command.js';
import { componentsGroup } from './components-command.js';
import { runDecl } from './run-command.js';

const optionsOf = (d: CommandDecl | undefined): string[] => (d?.options ?? []).map((o) => `--${o.name}`);
const RUN_OPTIONS = optionsOf(runDecl);
const BUILD_OPTIONS = optionsOf(componentsGroup.commands.find((c) => c.name === 'components build'));

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
      /^run .*--cni-bin "\$RUNNER_TEMP\/cni-head".*--baseline "\$RESULTS\/\$BASE_RUN\/results.json"/,
    );
    // Every option the workflow passes is one the commands take.
    for (const l of rp) {
      const allowed = l.startsWith('run ')
        ? RUN_OPTIONS
        : l.startsWith('components build')
          ? BUILD_OPTIONS
          : [];
      for (const flag of l.match(/--[\w-]+/g) ?? []) expect(allowed, `${flag} in "${l}"`).to.include(flag);
    }
  });
});
