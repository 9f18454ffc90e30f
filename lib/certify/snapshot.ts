/**
 * A node snapshot: what a node image does to the return path (its net.ipv4 sysctls and the sysctl.d
 * files behind them, policy rules, routes, iptables, interfaces, network managers). Written by
 * `returnpath collect` on a node, or built from a sysctl.d tree or a `sysctl -a` dump
 * (snapshot-load.ts); replayed on the lab by `returnpath certify`. schemas/snapshot.schema.json is
 * generated from this file (write-schemas.ts).
 */
import path from 'node:path';
import { z } from 'zod';
import { parseJsonText, validateWith } from '../model/zod-problems.js';
export { zodProblem } from '../model/zod-problems.js';

export const SNAPSHOT_SCHEMA_ID = 'returnpath/snapshot/v1';

export const SnapshotSource = z.strictObject({
  kind: z
    .enum(['collected', 'sysctl-dump', 'sysctl.d'])
    .describe('collected: `returnpath collect` on a node; sysctl-dump: a `sysctl -a` text; sysctl.d: files'),
  /** The input the snapshot was built from (file or directory), when it was not collected. */
  path: z.string().min(1).optional().describe('the file or directory the snapshot was built from'),
  hostname: z.string().min(1).optional(),
  collectedAt: z.iso.datetime({ offset: true }).optional(),
});
export type SnapshotSource = z.infer<typeof SnapshotSource>;

export const SysctlEntry = z.strictObject({
  /** As written, without the leading '-': '.' or '/' separators, may be a glob. */
  key: z.string().regex(/^[^\s=]+$/, 'must be a sysctl name without spaces or "="'),
  /** null: a `-key` line with no "=", which keeps the key out of every glob (systemd >= 245). */
  value: z.string().nullable(),
  /** The line started with '-': errors writing it are ignored. */
  ignoreErrors: z.boolean(),
  line: z.number().int().min(1),
});
export type SysctlEntry = z.infer<typeof SysctlEntry>;

export const SysctlFile = z.strictObject({
  /** Path on the image, e.g. /usr/lib/sysctl.d/50-default.conf. */
  path: z.string().startsWith('/', 'must be an absolute path on the image'),
  directory: z.string().startsWith('/', 'must be an absolute path on the image'),
  name: z.string().min(1),
  /**
   * Rank of the directory: 0 /etc/sysctl.d, 1 /run/sysctl.d, 2 /usr/local/lib/sysctl.d,
   * 3 /usr/lib/sysctl.d, 4 /lib/sysctl.d; 5 /etc/sysctl.conf (applied after every sysctl.d file).
   * A file masks same-named files of higher rank.
   */
  precedence: z.number().int().min(0).max(5),
  /** The file is a symlink to this target (as read); `/dev/null` masks same-named files. */
  symlink: z.string().min(1).optional(),
  /** Path of the file that masks this one (same name, earlier directory). */
  overriddenBy: z.string().min(1).optional(),
  entries: z.array(SysctlEntry),
});
export type SysctlFile = z.infer<typeof SysctlFile>;

export const SnapshotInterface = z.strictObject({
  name: z.string().min(1),
  /** 'device' (a NIC without a link kind, e.g. ENA), 'loopback', or the link kind: veth, bridge, ... */
  kind: z.string().min(1).optional(),
  mac: z.string().min(1).optional(),
  /** CIDR notation, IPv4 and IPv6. */
  addresses: z.array(z.string().min(1)),
  up: z.boolean(),
});
export type SnapshotInterface = z.infer<typeof SnapshotInterface>;

export const NetworkManagerInfo = z.strictObject({
  name: z.enum(['systemd-networkd', 'NetworkManager']),
  /** Its binary is installed. */
  present: z.boolean(),
  /** `systemctl is-active`; absent when systemd could not answer. */
  active: z.boolean().optional(),
  /** What was checked and what was seen, one line each. */
  evidence: z.array(z.string()),
});
export type NetworkManagerInfo = z.infer<typeof NetworkManagerInfo>;

export const SnapshotGap = z.strictObject({
  /** The part of the snapshot that is missing or partial. */
  section: z.string().min(1),
  argv: z.array(z.string()).optional(),
  error: z.string(),
});
export type SnapshotGap = z.infer<typeof SnapshotGap>;

const SYSCTL_KEY = /^net\.ipv4\.\S+$/;

export const NodeSnapshot = z
  .strictObject({
    schema: z.literal(SNAPSHOT_SCHEMA_ID),
    /** Set on samples: how the sample was written (it was not collected from a machine). */
    sample: z.string().min(1).optional(),
    source: SnapshotSource,
    /** `uname -r`; null when unknown (sysctl.d files, dumps). */
    kernel: z.string().min(1).nullable(),
    /** net.ipv4.* key → value, as `sysctl -a` prints them (interface dots as '/'). */
    sysctls: z.record(z.string().regex(SYSCTL_KEY, 'must be a net.ipv4.* key'), z.string()),
    /** Keys outside net.ipv4 that the input had and the snapshot leaves out. */
    sysctlsIgnored: z.number().int().min(0).optional(),
    sysctlFiles: z.array(SysctlFile),
    /** `ip rule` lines; null when not captured. */
    ipRules: z.array(z.string()).nullable(),
    /** Routing table → `ip route` lines; null when not captured. */
    routes: z.record(z.string().min(1), z.array(z.string())).nullable(),
    iptables: z
      .strictObject({
        backend: z.enum(['nf_tables', 'legacy', 'unknown']),
        /** iptables-save output; empty when it could not run. */
        save: z.string(),
      })
      .nullable(),
    interfaces: z.array(SnapshotInterface),
    networkManagers: z.array(NetworkManagerInfo),
    /** What could not be captured (missing tools, permissions): recorded, never fatal. */
    gaps: z.array(SnapshotGap).optional(),
    /** Observations made while building the snapshot (masked files, symlinks not followed, ...). */
    notes: z.array(z.string()).optional(),
  })
  .superRefine((s, ctx) => {
    s.sysctlFiles.forEach((f, i) => {
      if (path.posix.basename(f.path) !== f.name)
        ctx.addIssue({
          code: 'custom',
          path: ['sysctlFiles', i, 'name'],
          input: f.name,
          message: `must be the last component of path (${f.path})`,
        });
      if (path.posix.dirname(f.path) !== f.directory)
        ctx.addIssue({
          code: 'custom',
          path: ['sysctlFiles', i, 'directory'],
          input: f.directory,
          message: `must be the directory of path (${f.path})`,
        });
    });
  });
export type NodeSnapshot = z.infer<typeof NodeSnapshot>;

/** Validate a parsed snapshot; throws ValidationError with every problem and its path. */
export function validateSnapshot(data: unknown, source = 'snapshot'): NodeSnapshot {
  return validateWith(NodeSnapshot, data, source);
}

/** Parse snapshot JSON text (as `returnpath collect` writes it). */
export function parseSnapshot(text: string, source = 'snapshot'): NodeSnapshot {
  return validateSnapshot(parseJsonText(text, source), source);
}

/** The snapshot as JSON text, stable key order as the schema lists them. */
export function serializeSnapshot(s: NodeSnapshot): string {
  return `${JSON.stringify(s, null, 2)}\n`;
}

/** JSON Schema (draft 2020-12) of the snapshot file. */
export function snapshotJsonSchema(): Record<string, unknown> {
  return {
    $id: SNAPSHOT_SCHEMA_ID,
    title: 'returnpath node snapshot',
    description:
      'What a node image does to the return path: net.ipv4 sysctls and the sysctl.d files behind them, ' +
      'policy rules, routes, iptables, interfaces and network managers. Generated from lib/certify/snapshot.ts.',
    ...z.toJSONSchema(NodeSnapshot, { io: 'input' }),
  };
}

/** A zod issue as a ValidationProblem: path, offending value, what is allowed. */
