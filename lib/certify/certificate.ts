/**
 * The certificate `returnpath certify` writes: for one node image, one CNI profile and one profile of
 * required paths, which return paths work, why the others do not and what setting would fix them.
 * schemas/certificate.schema.json is generated from this file (write-schemas.ts).
 */
import { z } from 'zod';
import { ProvenanceSchema } from '../model/provenance.js';
import { parseJsonText, validateWith } from '../model/zod-problems.js';
import { SnapshotSource, snapshotJsonSchema } from './snapshot.js';

export const CERTIFICATE_SCHEMA_ID = 'returnpath/certificate/v1';

export const CertificateCell = z.strictObject({
  suite: z.string().min(1),
  id: z.string().min(1),
  status: z.enum(['pass', 'fail', 'inconclusive', 'error']),
});
export type CertificateCell = z.infer<typeof CertificateCell>;

export const PathStatus = z.enum(['supported', 'unsupported', 'error']);
export type PathStatus = z.infer<typeof PathStatus>;

export const CertificatePath = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9._/-]*$/, 'must be lowercase letters, digits, ".", "_", "/" or "-"'),
  title: z.string().min(1),
  /** Listed in requiredPaths. */
  required: z.boolean(),
  /** status === 'supported'. */
  supported: z.boolean(),
  /** error: the cells could not decide (lab or traffic failure), which is never a pass. */
  status: PathStatus,
  /** Why the path fails on this image, in one or two sentences. Required when unsupported. */
  mechanism: z.string().min(1).optional(),
  /** The setting that would make it work, e.g. `net.ipv4.conf.eth1.rp_filter=2 with vpc-cni >= 1.8`. */
  fix: z.string().min(1).optional(),
  cells: z.array(CertificateCell),
  /** Evidence lines: counters, drops, commands to re-run. */
  evidence: z.array(z.string()),
});
export type CertificatePath = z.infer<typeof CertificatePath>;

export const Certificate = z
  .strictObject({
    schema: z.literal(CERTIFICATE_SCHEMA_ID),
    /** The returnpath that certified. */
    returnpath: ProvenanceSchema.strict(),
    /** The machine the lab ran on (the kernel whose datapath was exercised). */
    lab: z.strictObject({ kernel: z.string().min(1) }),
    image: z.strictObject({
      /** What the user calls the image (`--image`, e.g. an AMI id); null when not given. */
      name: z.string().min(1).nullable(),
      source: SnapshotSource,
      /** The image's kernel, when the snapshot records it (a collected snapshot, a tree with usr/lib/modules). */
      kernel: z.string().min(1).nullable(),
      /** How the image's sysctls were replayed: interface mapping, origins, assumptions. */
      notes: z.array(z.string()),
      /** The sysctls replayed on the lab's nodes (lab names), key → value. */
      sysctls: z.record(z.string().min(1), z.union([z.string(), z.number()])).optional(),
    }),
    /** CNI profile the lab ran (vpc-cni, vpc-cni-legacy, eni-policy-routing, none). */
    cni: z.string().min(1),
    /** Certification profile: which paths are required. */
    profile: z.string().min(1),
    requiredPaths: z.array(z.string().min(1)),
    paths: z.array(CertificatePath),
    /** Every required path is supported. */
    certified: z.boolean(),
    generatedAt: z.iso.datetime({ offset: true }),
    runId: z.string().min(1),
  })
  .superRefine((c, ctx) => {
    const ids = new Set<string>();
    c.paths.forEach((p, i) => {
      if (ids.has(p.id))
        ctx.addIssue({ code: 'custom', path: ['paths', i, 'id'], input: p.id, message: 'duplicate path id' });
      ids.add(p.id);
      if (p.supported !== (p.status === 'supported'))
        ctx.addIssue({
          code: 'custom',
          path: ['paths', i, 'supported'],
          input: p.supported,
          message: `must be ${p.status === 'supported'} when status is ${p.status}`,
        });
      if (p.required !== c.requiredPaths.includes(p.id))
        ctx.addIssue({
          code: 'custom',
          path: ['paths', i, 'required'],
          input: p.required,
          message: `must be ${!p.required}: required is true exactly for the ids in requiredPaths`,
        });
      if (p.status === 'unsupported' && !p.mechanism)
        ctx.addIssue({
          code: 'custom',
          path: ['paths', i, 'mechanism'],
          input: undefined,
          message: 'an unsupported path says why (one or two sentences)',
        });
    });
    c.requiredPaths.forEach((id, i) => {
      if (!ids.has(id))
        ctx.addIssue({
          code: 'custom',
          path: ['requiredPaths', i],
          input: id,
          message: 'names no path in paths',
        });
    });
    const certified = isCertified(c.requiredPaths, c.paths);
    if (c.certified !== certified)
      ctx.addIssue({
        code: 'custom',
        path: ['certified'],
        input: c.certified,
        message: `must be ${certified}: certified means every required path is supported`,
      });
  });
export type Certificate = z.infer<typeof Certificate>;

/** Every required path is present and supported. */
export function isCertified(
  requiredPaths: readonly string[],
  paths: readonly Pick<CertificatePath, 'id' | 'status'>[],
): boolean {
  return requiredPaths.every((id) => paths.some((p) => p.id === id && p.status === 'supported'));
}

export interface CertificateInput {
  returnpath: Certificate['returnpath'];
  lab: Certificate['lab'];
  image: Certificate['image'];
  cni: string;
  profile: string;
  requiredPaths: readonly string[];
  paths: readonly Omit<CertificatePath, 'required' | 'supported'>[];
  runId: string;
  generatedAt?: Date;
}

/** A validated certificate; `required`, `supported` and `certified` are derived, never passed. */
export function buildCertificate(input: CertificateInput): Certificate {
  const requiredPaths = [...input.requiredPaths];
  return validateCertificate(
    {
      schema: CERTIFICATE_SCHEMA_ID,
      returnpath: input.returnpath,
      lab: input.lab,
      image: input.image,
      cni: input.cni,
      profile: input.profile,
      requiredPaths,
      paths: input.paths.map((p) => ({
        id: p.id,
        title: p.title,
        required: requiredPaths.includes(p.id),
        supported: p.status === 'supported',
        status: p.status,
        ...(p.mechanism !== undefined ? { mechanism: p.mechanism } : {}),
        ...(p.fix !== undefined ? { fix: p.fix } : {}),
        cells: p.cells,
        evidence: p.evidence,
      })),
      certified: isCertified(requiredPaths, input.paths),
      generatedAt: (input.generatedAt ?? new Date()).toISOString(),
      runId: input.runId,
    },
    `certificate ${input.runId}`,
  );
}

export function validateCertificate(data: unknown, source = 'certificate'): Certificate {
  return validateWith(Certificate, data, source);
}

export function parseCertificate(text: string, source = 'certificate'): Certificate {
  return validateCertificate(parseJsonText(text, source), source);
}

export function serializeCertificate(c: Certificate): string {
  return `${JSON.stringify(c, null, 2)}\n`;
}

/** JSON Schema (draft 2020-12) of the certificate file. */
export function certificateJsonSchema(): Record<string, unknown> {
  return {
    $id: CERTIFICATE_SCHEMA_ID,
    title: 'returnpath node image certificate',
    description:
      'Which load-balanced return paths a node image supports with one CNI profile, why the others fail and ' +
      'what would fix them. Generated from lib/certify/certificate.ts.',
    ...z.toJSONSchema(Certificate, { io: 'input' }),
  };
}

/** The JSON Schema files generated from the certify schemas (write-schemas.ts), by repository path. */
export function certifySchemaFiles(): { path: string; schema: Record<string, unknown> }[] {
  return [
    { path: 'schemas/snapshot.schema.json', schema: snapshotJsonSchema() },
    { path: 'schemas/certificate.schema.json', schema: certificateJsonSchema() },
  ];
}

/** One line for a terminal: `CERTIFIED amazon-linux-2023.json (vpc-cni, eks-default): 4/4 required paths`. */
export function summarizeCertificate(c: Certificate): string {
  const required = c.paths.filter((p) => p.required);
  const ok = required.filter((p) => p.supported).length;
  const failing = required.filter((p) => !p.supported).map((p) => `${p.id} (${p.status})`);
  const what = c.image.name ?? c.image.source.path ?? c.image.source.hostname ?? c.image.source.kind;
  return (
    `${c.certified ? 'CERTIFIED' : 'NOT CERTIFIED'} ${what} (${c.cni}, ${c.profile}): ` +
    `${ok}/${required.length} required paths supported${failing.length > 0 ? `; failing: ${failing.join(', ')}` : ''}`
  );
}
