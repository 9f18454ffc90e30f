/**
 * `returnpath collect` (on a node: a snapshot of its network settings) and `returnpath certify
 * SNAPSHOT` (replay them in the lab, run the certification paths, write a certificate).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { CommandRunner } from '../exec/command.js';
import {
  certificateOf,
  certificationSuite,
  checkCni,
  requiredPaths,
  PATHS,
  PROFILES,
} from '../certify/certify.js';
import {
  collectSnapshot,
  loadSnapshot,
  renderCertificateHtml,
  serializeCertificate,
  serializeSnapshot,
  summarizeCertificate,
} from '../certify/index.js';
import { DYNAMIC_SPEC, setDynamicSuite } from '../scenario/dynamic.js';
import { SUITES } from '../../suites/catalog.js';
import { intFlag, parseArgs, stringFlag, usage } from './args.js';
import { newResultsRunId, runSuites } from './run-command.js';
import { suiteYaml } from '../scenario/suite-document.js';

export async function collectCommand(argv: readonly string[]): Promise<number> {
  const a = parseArgs(argv, { values: ['out'] }, 'collect');
  const snapshot = await collectSnapshot(new CommandRunner());
  const text = serializeSnapshot(snapshot);
  const out = stringFlag(a, 'out');
  if (out) await writeFile(out, text);
  else process.stdout.write(text);
  for (const g of snapshot.gaps ?? []) process.stderr.write(`collect: gap: ${JSON.stringify(g)}\n`);
  if (out) process.stderr.write(`collect: snapshot written to ${out}\n`);
  return 0;
}

export async function certifyCommand(argv: readonly string[]): Promise<number> {
  const a = parseArgs(argv, { values: ['cni', 'profile', 'results', 'concurrency', 'run-id'] }, 'certify');
  const [input, ...extra] = a.positionals;
  if (!input)
    throw usage(
      'certify',
      '',
      'needs a SNAPSHOT: a snapshot JSON, a sysctl.d directory or a `sysctl -a` dump',
    );
  if (extra.length) throw usage('certify', extra.join(' '), 'takes one SNAPSHOT');
  const cni = checkCni(stringFlag(a, 'cni') ?? 'vpc-cni');
  const profile = stringFlag(a, 'profile') ?? 'all';
  requiredPaths(profile);
  const snapshot = await loadSnapshot(input);
  // Run every path (the certificate lists them all); the profile decides which are required.
  const pathIds = PATHS.map((p) => p.id);
  const built = certificationSuite(SUITES, snapshot, cni, pathIds);
  const runId = stringFlag(a, 'run-id') ?? newResultsRunId();
  const resultsRoot = stringFlag(a, 'results') ?? 'test-results';
  // The cells exist only for this image: save them as a suite file beside the results, so that
  // their reproduce lines (lab up --file ... --cell ...) have a file to name.
  const suiteFile = join(resolve(resultsRoot, runId), 'certify.suite.yaml');
  await mkdir(dirname(suiteFile), { recursive: true });
  await writeFile(suiteFile, suiteYaml(built, `certification of ${input} (${cni}), returnpath certify`));
  const shown = relative(process.cwd(), suiteFile);
  const suite = {
    ...built,
    source: { kind: 'file' as const, path: shown.startsWith('..') ? suiteFile : shown },
  };
  setDynamicSuite(suite);
  try {
    const out = await runSuites({
      suites: [suite],
      concurrency: intFlag(a, 'concurrency', 'certify', 1, 16) ?? Math.min(2, availableParallelism()),
      resultsRoot,
      runId,
      specFor: () => DYNAMIC_SPEC,
    });
    const cert = certificateOf({
      snapshot,
      cni,
      profile,
      pathIds,
      results: out.results.cells,
      runId: out.results.runId,
    });
    await writeFile(join(out.dir, 'certificate.json'), serializeCertificate(cert));
    await writeFile(join(out.dir, 'certificate.html'), renderCertificateHtml(cert));
    console.log('');
    console.log(summarizeCertificate(cert));
    for (const p of cert.paths)
      console.log(
        `  ${p.supported ? 'supported  ' : p.status === 'error' ? 'error      ' : 'UNSUPPORTED'} ${p.required ? '*' : ' '} ${p.id}` +
          (p.supported ? '' : `\n      ${p.mechanism ?? ''}${p.fix ? `\n      fix: ${p.fix}` : ''}`),
      );
    console.log(`  (* required by profile ${profile}: ${PROFILES[profile]!.join(', ')})`);
    console.log(`certificate: ${join(out.dir, 'certificate.html')}`);
    return cert.certified ? 0 : 1;
  } finally {
    setDynamicSuite(undefined);
  }
}
