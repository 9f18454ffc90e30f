/**
 * Faults as data: what a chaos cell (or a suite file) names, validated with zod. lib/chaos/fault-spec.ts
 * builds the Fault objects from them.
 */
import { z } from 'zod';

const host = z.string().min(1).describe('A lab host: `node-1`, `pod/web`, `fabric`, `nlb/NAME/ZONE`, ...');
const iface = z.string().min(1).describe('An interface inside the host: `eth0`, `eth1`, ...');
const port = z.number().int().min(1).max(65535);

export const FaultSpecSchema = z
  .discriminatedUnion('kind', [
    z
      .object({
        kind: z.literal('rp-filter'),
        host,
        interface: iface,
        value: z.union([z.literal(0), z.literal(1), z.literal(2)]),
      })
      .strict()
      .describe('net.ipv4.conf.<interface>.rp_filter set, then restored.'),
    z
      .object({
        kind: z.literal('sysctl'),
        host,
        values: z.record(z.string().regex(/^net\./, 'a net.* key'), z.string()),
      })
      .strict()
      .describe('net.* sysctls of one host set, then restored.'),
    z
      .object({
        kind: z.literal('source-port-exhaustion'),
        host,
        range: z.tuple([port, port]),
        hold: z
          .object({ host: z.string().min(1), port, connections: z.number().int().min(1).optional() })
          .strict()
          .optional(),
      })
      .strict()
      .describe(
        'The ephemeral port range narrowed (and held by connections to one destination), then widened.',
      ),
    z
      .object({
        kind: z.literal('wipe-rules'),
        host,
        rules: z
          .union([z.literal('all-non-default'), z.array(z.number().int().min(0))])
          .default('all-non-default'),
        routeTables: z.array(z.number().int().min(1)).optional(),
      })
      .strict()
      .describe('Policy rules deleted and route tables flushed (a network manager), then restored exactly.'),
    z
      .object({ kind: z.literal('link-down'), host, interface: iface })
      .strict()
      .describe('A link down, then up with its routes.'),
    z
      .object({ kind: z.literal('conntrack-flush'), host })
      .strict()
      .describe("A host's conntrack table flushed."),
    z
      .object({
        kind: z.literal('nlb-node-loss'),
        nlb: z.string().min(1),
        zone: z.string().min(1),
        forgetFlows: z.boolean().optional(),
      })
      .strict()
      .describe("One zone's NLB node stops answering, then comes back."),
    z
      .object({
        kind: z.literal('target-unhealthy'),
        nlb: z.string().min(1),
        target: z.string().min(1),
        via: z
          .enum(['nlb', 'readiness'])
          .optional()
          .describe(
            "`nlb` (default): the NLB's view overridden. `readiness`: an instance target's local endpoint pods " +
              "reported not Ready, so kube-proxy's health check node port answers 503 (through the real " +
              'kube-proxy when the cell runs on it).',
          ),
      })
      .strict()
      .describe(
        'A target forced unhealthy on every NLB node (its flows reset), or failing for real (via readiness), then back.',
      ),
    z
      .object({
        kind: z.literal('deregister'),
        nlb: z.string().min(1),
        target: z.string().min(1),
        reset: z.boolean().optional(),
      })
      .strict()
      .describe(
        'A target deregistered (no new flows; open ones reset unless reset: false), then registered.',
      ),
    z
      .object({ kind: z.literal('kube-proxy-wipe'), node: z.string().min(1) })
      .strict()
      .describe("kube-proxy's chains removed, then re-synced."),
    z
      .object({
        kind: z.literal('endpoints-change'),
        node: z.string().min(1),
        service: z.string().min(1),
        endpoints: z.array(z.string()),
        scope: z
          .enum(['node', 'cluster'])
          .optional()
          .describe(
            "`node` (default): one node's kube-proxy rules change. `cluster`: the Service's endpoints change " +
              'everywhere, as when a pod stops matching its selector (through the API, the EndpointSlice controller ' +
              'and the real kube-proxy when the cell runs on them); `node` is then ignored.',
          ),
      })
      .strict()
      .describe(
        "kube-proxy's rules rewritten for other endpoints (one node, or the cluster), then restored.",
      ),
    z
      .object({
        kind: z.literal('packet-loss'),
        host,
        interface: iface,
        probability: z.number().gt(0).max(1),
        direction: z.enum(['in', 'out', 'both']).default('both'),
      })
      .strict()
      .describe(
        'Each packet entering and/or leaving an interface dropped with a probability (iptables statistic).',
      ),
    z
      .object({
        kind: z.literal('delay'),
        host,
        interface: iface,
        rate: z.string().regex(/^\d+(\.\d+)?(bit|kbit|mbit|gbit)$/, 'a tc rate: 64kbit, 1mbit, ...'),
        burstBytes: z.number().int().min(1).optional(),
        latencyMs: z.number().min(1),
      })
      .strict()
      .describe('Rate limiting with queueing delay (tc tbf) on an interface.'),
  ])
  .meta({ id: 'Fault' });

export type FaultSpec = z.output<typeof FaultSpecSchema>;
/** A fault spec as written (defaults not filled in yet). */
export type FaultSpecInput = z.input<typeof FaultSpecSchema>;
