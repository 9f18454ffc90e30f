/**
 * `returnpath collect` (on a node: a snapshot of its network settings) and `returnpath certify
 * SNAPSHOT` (replay them in the lab, run the certification paths, write a certificate).
 */
import { writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { CommandRunner } from '../exec/command.js';
import {
  certificateOf,
  certificationSuite,
  CERTIFY_CNIS,
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
import { checkOutputFile, writeProblem } from '../files.js';
import { UsageError, type Args, type CommandDecl } from './command.js';
import { newResultsRunId, runSuites } from './run-command.js';
import { suiteYaml } from '../scenario/suite-document.js';

export const collectDecl: CommandDecl = {
  name: 'collect',
  summary: 'on a node, as root: snapshot its network settings for certify (read-only)',
  options: [{ name: 'out', value: 'FILE', help: 'write the snapshot JSON here (default: standard output)' }],
  run: collectCommand,
};

export async function collectCommand(a: Args): Promise<number> {
  const out = a.string('out');
  // An output that cannot be written is refused before anything is collected.
  if (out) await checkOutputFile(out, 'snapshot output (--out)');
  const snapshot = await collectSnapshot(new CommandRunner());
  const text = serializeSnapshot(snapshot);
  if (out)
    await writeFile(out, text).catch((e: unknown) => {
      throw writeProblem(out, 'snapshot output (--out)', e);
    });
  else process.stdout.write(text);
  for (const g of snapshot.gaps ?? []) process.stderr.write(`collect: gap: ${JSON.stringify(g)}\n`);
  if (out) process.stderr.write(`collect: snapshot written to ${out}\n`);
  return 0;
}

export const certifyDecl: CommandDecl = {
  name: 'certify',
  summary: "replay a node image's sysctls in the lab (as root) and certify its traffic paths",
  positionals: [
    {
      name: 'SNAPSHOT',
      help: 'a snapshot JSON (`returnpath collect`), a sysctl.d directory or image tree, a *.conf file or a `sysctl -a` dump',
    },
  ],
  options: [
    {
      name: 'cni',
      value: 'CNI',
      choices: CERTIFY_CNIS,
      help: 'the CNI profile the nodes run (default: vpc-cni)',
    },
    {
      name: 'profile',
      value: 'P',
      choices: Object.keys(PROFILES),
      help: 'which paths must be supported for the certificate (default: all)',
    },
    {
      name: 'image',
      value: 'NAME',
      help: 'what the certificate calls the image (e.g. an AMI id, ami-0abc...); default: the snapshot path',
    },
    { name: 'results', value: 'DIR', help: 'where the run directory is written (default: test-results)' },
    { name: 'concurrency', value: 'N', help: 'cells in flight at once, 1 to 16 (default: 2)' },
    {
      name: 'run-id',
      value: 'ID',
      help: "the run directory's name (default: a timestamp); refused when it exists",
    },
    { name: 'force', help: "with --run-id: replace an earlier run's results of that id" },
  ],
  run: certifyCommand,
};

export async function certifyCommand(a: Args): Promise<number> {
  const input = a.positional('SNAPSHOT')!;
  const cni = checkCni(a.string('cni') ?? 'vpc-cni');
  const profile = a.string('profile') ?? 'all';
  requiredPaths(profile);
  const imageName = a.string('image');
  if (imageName !== undefined && !/^[\x21-\x7e]([\x20-\x7e]{0,198}[\x21-\x7e])?$/.test(imageName))
    throw new UsageError('certify', `--image ${imageName}`, 'must be 1-200 printable ASCII characters');
  const snapshot = await loadSnapshot(input);
  // Run every path (the certificate lists them all); the profile decides which are required.
  const pathIds = PATHS.map((p) => p.id);
  const built = certificationSuite(SUITES, snapshot, cni, pathIds);
  const runId = a.string('run-id') ?? newResultsRunId();
  const resultsRoot = a.string('results') ?? 'test-results';
  // The cells exist only for this image: save them as a suite file beside the results (once the
  // run has its directory), so that their reproduce lines (lab up --file ... --cell ...) have a
  // file to name.
  const suiteFile = join(resolve(resultsRoot, runId), 'certify.suite.yaml');
  const shown = relative(process.cwd(), suiteFile);
  const suite = {
    ...built,
    source: { kind: 'file' as const, path: shown.startsWith('..') ? suiteFile : shown },
  };
  setDynamicSuite(suite);
  try {
    const out = await runSuites({
      suites: [suite],
      concurrency: a.int('concurrency', 1, 16) ?? Math.min(2, availableParallelism()),
      resultsRoot,
      runId,
      ...(a.flag('force') && { force: true }),
      prepare: (dir) =>
        writeFile(
          join(dir, 'certify.suite.yaml'),
          suiteYaml(built, `certification of ${input} (${cni}), returnpath certify`),
        ),
      specFor: () => DYNAMIC_SPEC,
    });
    if (out.exitCode === 130) {
      // Interrupted: the finished cells are in the results, but no verdict is written or printed.
      console.log(`interrupted: no certificate written (the finished paths are in ${out.dir})`);
      return 130;
    }
    const cert = certificateOf({
      snapshot,
      cni,
      profile,
      pathIds,
      results: out.results.cells,
      runId: out.results.runId,
      ...(imageName !== undefined && { imageName }),
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
