/**
 * Turns a snapshot into the lab's NodeSysctls: conf/all, conf/default, the node's interfaces (mapped onto
 * the lab's eth0, eth1, ...), ip_forward and the replayable global keys, each value with its origin.
 *
 * A collected snapshot or a dump gives the live values (sysctl.d already applied, plus whatever changed
 * them at runtime); sysctl.d input is computed with systemd's precedence on top of the kernel defaults
 * (sysctl-defaults.ts). Every value is written explicitly: a new network namespace copies conf/all and
 * conf/default from the host's, so leaving a key out would certify the lab host, not the image.
 */
import { ValidationError, type ValidationProblem } from '../errors.js';
import { NodeSysctls } from '../model/schema.js';
import type { NodeSnapshot } from './snapshot.js';
import { zodProblem } from '../model/zod-problems.js';
import {
  CONF_KNOBS,
  kernelDefault,
  GLOBAL_DEFAULTS,
  GLOBAL_DEFAULTS_SOURCE,
  NEW_INTERFACE_PROBE,
  REPLAYED_GLOBAL_KEYS,
  sameSysctlValue,
  type ConfKnob,
} from './sysctl-defaults.js';
import {
  isGlob,
  lookupSysctl,
  normalizeSysctlKey,
  resolveSysctlFiles,
  type SysctlAssignment,
  type SysctlResolution,
} from './sysctl-precedence.js';

export interface ReplayOptions {
  /** Image interface → lab interface, e.g. { ens5: 'eth0', ens6: 'eth1' }. Default: physical interfaces in order. */
  interfaceMap?: Readonly<Record<string, string>>;
  /** The lab node's interfaces (its ENIs). Default: one per mapped image interface. */
  labInterfaces?: readonly string[];
  /**
   * Lab keys the CNI writes after boot (e.g. net.ipv4.conf.eth0.rp_filter for vpc-cni): on a node the
   * CNI's value wins, so the image's value is left out and the lab's CNI wiring sets it.
   */
  cniWrites?: readonly string[];
  /** 'node' (default): ip_forward=1 whatever the image says, as a Kubernetes node has it. */
  ipForward?: 'node' | 'image';
}

export interface ImageSysctls {
  sysctls: NodeSysctls;
  interfaceMap: { image: string; lab: string }[];
  /** For humans and the certificate: where the values come from, what was assumed or left out. */
  notes: string[];
  /** Lab key (net.ipv4.conf.eth1.rp_filter) → where its value comes from. */
  provenance: Record<string, string>;
  /** Keys of the image not replayed, and why. */
  skipped: { key: string; value: string; reason: string }[];
}

/** Knobs written for every level; forwarding follows ip_forward and is written only when it differs. */
const WRITTEN_KNOBS = CONF_KNOBS.filter((k) => k !== 'forwarding');
const ALLOWED: Record<ConfKnob, readonly string[]> = {
  rp_filter: ['0', '1', '2'],
  accept_local: ['0', '1'],
  src_valid_mark: ['0', '1'],
  route_localnet: ['0', '1'],
  forwarding: ['0', '1'],
  send_redirects: ['0', '1'],
};
const RP_MODE: Record<string, string> = { '0': 'off', '1': 'strict', '2': 'loose' };
/** Names of NICs as udev/systemd or the kernel name them; never a CNI's veth (eni..., veth..., cali...). */
const PHYSICAL = /^(eth\d+|ens\d+\w*|enp\w+|eno\d+\w*|enx[0-9a-f]+|enX\w+)$/;
const LAB_IF = /^eth([0-9]|1[0-5])$/;

interface Valued {
  value: string;
  origin: string;
}

/** The lab's NodeSysctls for a snapshot. Throws ValidationError when a value is outside what the lab accepts. */
export function toNodeSysctls(snapshot: NodeSnapshot, opts: ReplayOptions = {}): ImageSysctls {
  const source = snapshot.source.path ?? snapshot.source.hostname ?? 'snapshot';
  const notes: string[] = [];
  const provenance: Record<string, string> = {};
  const skipped: ImageSysctls['skipped'] = [];
  const problems: ValidationProblem[] = [];
  const isLive = live(snapshot);

  const mapping = mapInterfaces(snapshot, opts, notes);
  const imageIfaces = mapping.map((m) => m.image).filter((i): i is string => i !== null);
  const resolution: SysctlResolution | undefined =
    snapshot.sysctlFiles.length > 0
      ? resolveSysctlFiles(snapshot.sysctlFiles, imageIfaces, { existingKeys: Object.keys(snapshot.sysctls) })
      : undefined;
  if (!isLive && !resolution) notes.push('no sysctl.d files: every value is the kernel default');
  if (isLive && Object.keys(snapshot.sysctls).length === 0)
    notes.push(
      `the snapshot has no sysctl values (see its gaps): computed from ${resolution ? 'its sysctl.d files and ' : ''}the kernel defaults`,
    );

  const fromFiles = (key: string): SysctlAssignment | undefined =>
    resolution ? lookupSysctl(resolution, key) : undefined;
  const describe = (a: SysctlAssignment): string => (a.glob ? `${a.from} (glob ${a.glob})` : a.from);
  /** Image value of a global key: live, else from the files; undefined when neither has it. */
  const globalValue = (key: string): Valued | undefined => {
    const a = fromFiles(key);
    const v = isLive ? snapshot.sysctls[key] : undefined;
    if (v !== undefined)
      return {
        value: v,
        origin: a && a.value === v ? `the live value, set by ${describe(a)}` : 'the live value',
      };
    return a ? { value: a.value, origin: describe(a) } : undefined;
  };

  const fwdKey = 'net.ipv4.ip_forward';
  const imageFwd = globalValue(fwdKey) ?? { value: '0', origin: 'kernel default' };

  /** Image value of a conf knob at a level (all, default or an image interface name); memoized. */
  const cache = new Map<string, Valued>();
  const confValue = (level: string, knob: ConfKnob): Valued => {
    const key = `net.ipv4.conf.${level.replace(/\./g, '/')}.${knob}`;
    let v = cache.get(key);
    if (!v) {
      v = imageValue(key, level, knob);
      cache.set(key, v);
    }
    return v;
  };
  const imageValue = (key: string, level: string, knob: ConfKnob): Valued => {
    const a = fromFiles(key);
    if (isLive) {
      const v = snapshot.sysctls[key];
      if (v !== undefined) {
        if (a && a.value !== v)
          notes.push(
            `${key}=${v} on the node, but the sysctl.d files set ${a.value} (${describe(a)}): something changed it after boot`,
          );
        return {
          value: v,
          origin: a && a.value === v ? `the live value, set by ${describe(a)}` : 'the live value',
        };
      }
      if (Object.keys(snapshot.sysctls).length > 0) notes.push(`${key} is missing from the snapshot`);
    }
    if (a) return { value: a.value, origin: describe(a) };
    // Writing ip_forward sets forwarding on conf/all, conf/default and every interface.
    if (knob === 'forwarding')
      return { value: imageFwd.value, origin: `follows ip_forward (${imageFwd.origin})` };
    if (level !== 'all' && level !== 'default') {
      // An interface takes conf/default's value (at creation, and when default is written later).
      const d = confValue('default', knob);
      return { value: d.value, origin: `conf/default's value (${d.origin})` };
    }
    return { value: kernelDefault(key) ?? '0', origin: 'kernel default' };
  };

  const check = (key: string, knob: ConfKnob, v: Valued): number | undefined => {
    if (ALLOWED[knob].includes(v.value)) return Number(v.value);
    problems.push({
      path: key,
      value: v.value,
      message: `the lab accepts ${ALLOWED[knob].join(', ')} for ${knob} (from ${v.origin})`,
    });
    return undefined;
  };

  const cniWrites = new Set(opts.cniWrites ?? []);
  const levelConf = (
    labLevel: string,
    imageLevel: string | null,
    knobs: readonly ConfKnob[],
  ): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const knob of knobs) {
      const labKey = `net.ipv4.conf.${labLevel}.${knob}`;
      const v = imageLevel === null ? newInterfaceValue(knob) : confValue(imageLevel, knob);
      if (cniWrites.has(labKey)) {
        notes.push(
          `${labKey}: the image has ${v.value} (${v.origin}), but the CNI writes this key after boot and wins on a node, so the lab leaves it to the CNI`,
        );
        continue;
      }
      const n = check(labKey, knob, v);
      if (n === undefined) continue;
      out[knob] = n;
      provenance[labKey] = v.origin;
    }
    return out;
  };

  /** What an interface created after boot gets: conf/default, unless a sysctl.d option reaches it via udev. */
  const newInterfaceValue = (knob: ConfKnob): Valued => {
    const d = confValue('default', knob);
    const a = fromFiles(`net.ipv4.conf.${NEW_INTERFACE_PROBE}.${knob}`);
    if (a && a.value !== d.value)
      return { value: a.value, origin: `${describe(a)}, applied by udev to new interfaces` };
    return d;
  };

  // ip_forward, and interface forwarding only where the image deliberately turns it off.
  let ipForward: 0 | 1;
  if (!['0', '1'].includes(imageFwd.value)) {
    problems.push({
      path: fwdKey,
      value: imageFwd.value,
      message: `must be 0 or 1 (from ${imageFwd.origin})`,
    });
    ipForward = 1;
  } else if (opts.ipForward === 'image') {
    ipForward = imageFwd.value === '1' ? 1 : 0;
    provenance[fwdKey] = imageFwd.origin;
  } else {
    ipForward = 1;
    provenance[fwdKey] = imageFwd.value === '1' ? imageFwd.origin : 'Kubernetes node (image has 0)';
    if (imageFwd.value !== '1')
      notes.push(
        `ip_forward=0 on the image (${imageFwd.origin}); a Kubernetes node forwards pod traffic (kubeadm's preflight requires 1), so the lab keeps 1`,
      );
  }

  const all = levelConf('all', 'all', WRITTEN_KNOBS);
  const defaultConf = levelConf('default', null, WRITTEN_KNOBS);
  const d = confValue('default', 'rp_filter');
  const nd = newInterfaceValue('rp_filter');
  if (nd.value !== d.value)
    notes.push(
      `interfaces created after boot (pod veths) get rp_filter=${nd.value} from ${nd.origin}, although conf/default is ${d.value}; the lab seeds them through conf/default, so conf/default is ${nd.value}`,
    );

  const interfaces: Record<string, Record<string, number>> = {};
  for (const m of mapping) {
    const conf = levelConf(m.lab, m.image, WRITTEN_KNOBS);
    if (ipForward === 1 && m.image !== null && imageFwd.value === '1') {
      const f = confValue(m.image, 'forwarding');
      if (f.value === '0') {
        conf.forwarding = 0;
        provenance[`net.ipv4.conf.${m.lab}.forwarding`] = f.origin;
        notes.push(`forwarding=0 on ${m.image} (${f.origin}) although ip_forward=1: replayed on ${m.lab}`);
      }
    }
    interfaces[m.lab] = conf;
  }

  // rp_filter level by level, with the effective mode per interface; other knobs when not the default.
  const allRp = all.rp_filter ?? Number(confValue('all', 'rp_filter').value);
  const levels: [string, string, Record<string, number>][] = [
    ['all', 'conf/all', all],
    ['default', 'conf/default', defaultConf],
    ...mapping.map((m): [string, string, Record<string, number>] => [
      m.lab,
      m.image && m.image !== m.lab ? `${m.lab} (image ${m.image})` : m.lab,
      interfaces[m.lab] ?? {},
    ]),
  ];
  for (const [level, label, conf] of levels) {
    const rp = conf.rp_filter;
    if (rp !== undefined) {
      const from = provenance[`net.ipv4.conf.${level}.rp_filter`];
      const eff = Math.max(allRp, rp);
      const effective =
        level === 'all' || level === 'default'
          ? ''
          : `; effective max(all ${allRp}, ${level} ${rp}) = ${eff} (${RP_MODE[String(eff)] ?? '?'})`;
      notes.push(`rp_filter=${rp} on ${label} comes from ${from}${effective}`);
    }
    for (const [knob, v] of Object.entries(conf))
      if (knob !== 'rp_filter' && String(v) !== kernelDefault(`net.ipv4.conf.${level}.${knob}`))
        notes.push(`${knob}=${v} on ${label} comes from ${provenance[`net.ipv4.conf.${level}.${knob}`]}`);
  }

  // Global keys; and what the lab does not model, listed as skipped.
  const other: Record<string, string> = {};
  const imageKeys: [string, string][] = isLive
    ? Object.entries(snapshot.sysctls)
    : Object.entries(resolution?.effective ?? {}).map(([k, a]): [string, string] => [k, a.value]);
  const modelled = new Set<string>(CONF_KNOBS);
  let unchanged = 0;
  const levelsKnown = new Set(['all', 'default', ...imageIfaces.map((i) => i.replace(/\./g, '/'))]);
  for (const [key, value] of imageKeys) {
    if (key === fwdKey) continue;
    const conf = /^net\.ipv4\.conf\.([^.]+)\.(\w+)$/.exec(key);
    let reason: string | undefined;
    if (conf) {
      if (!levelsKnown.has(conf[1] as string)) reason = 'interface not mapped onto the lab';
      else if (!modelled.has(conf[2] as string))
        reason = `the lab models ${CONF_KNOBS.join(', ')} per interface`;
      else continue;
    } else if (!key.startsWith('net.ipv4.'))
      reason = 'not net.ipv4: outside what a return-path certification replays';
    else if (!REPLAYED_GLOBAL_KEYS.has(key))
      reason = 'not among the global keys the lab replays (return-path keys writable in a namespace)';
    if (reason) {
      skipped.push({ key, value, reason });
      continue;
    }
    // A live value is written when the image's files set it or it differs from a fresh namespace's.
    const dflt = GLOBAL_DEFAULTS[key];
    if (isLive && !fromFiles(key) && dflt !== null && dflt !== undefined && sameSysctlValue(dflt, value)) {
      unchanged++;
      continue;
    }
    other[key] = value;
    provenance[key] = globalValue(key)?.origin ?? 'the live value';
  }
  if (unchanged > 0)
    notes.push(
      `${unchanged} replayable global key(s) have the value they have in ${GLOBAL_DEFAULTS_SOURCE}: not written`,
    );
  if (skipped.length > 0)
    notes.push(
      `${skipped.length} key(s) of the image are not replayed (not return-path keys, or not writable in a namespace): ` +
        `${skipped
          .slice(0, 5)
          .map((s) => s.key)
          .join(', ')}${skipped.length > 5 ? ', ...' : ''}`,
    );

  if (problems.length > 0) throw new ValidationError(source, problems);
  const parsed = NodeSysctls.safeParse({
    ip_forward: ipForward,
    all,
    default: defaultConf,
    interfaces,
    other,
  });
  if (!parsed.success) throw new ValidationError(source, parsed.error.issues.map(zodProblem));
  return {
    sysctls: parsed.data,
    interfaceMap: mapping
      .filter((m) => m.image !== null)
      .map((m) => ({ image: m.image as string, lab: m.lab })),
    notes,
    provenance,
    skipped,
  };
}

/** Values measured on a node (collected, or a dump), as opposed to computed from sysctl.d files. */
function live(snapshot: NodeSnapshot): boolean {
  return snapshot.source.kind !== 'sysctl.d';
}

interface Mapped {
  /** null: a lab interface no image interface maps to (it gets what a new interface would). */
  image: string | null;
  lab: string;
}

/** Physical interfaces of the image in device order, onto eth0, eth1, ... */
function mapInterfaces(snapshot: NodeSnapshot, opts: ReplayOptions, notes: string[]): Mapped[] {
  let mapped: Mapped[];
  if (opts.interfaceMap) {
    mapped = Object.entries(opts.interfaceMap)
      .sort(([a], [b]) => naturalCompare(a, b))
      .map(([image, lab]) => ({ image, lab }));
    notes.push(`interfaces mapped as given: ${mapped.map((m) => `${m.image} -> ${m.lab}`).join(', ')}`);
  } else {
    const { names, from } = physicalInterfaces(snapshot);
    const lab = opts.labInterfaces ?? ['eth0', 'eth1'];
    if (names.length === 0) {
      mapped = lab.map((l) => ({ image: l, lab: l }));
      notes.push(
        `the input names no interface: assumed the image names them as the lab does (${lab.join(', ')})`,
      );
    } else if (!live(snapshot) && names.every((n) => LAB_IF.test(n))) {
      // Files that name eth1 only still describe an image with eth0: keep the names.
      const all = [...new Set([...lab, ...names])].sort(naturalCompare);
      mapped = all.map((n) => ({ image: n, lab: n }));
      notes.push(
        `the sysctl.d files name ${names.join(', ')}: assumed the image names its interfaces as the lab does (${all.join(', ')})`,
      );
    } else {
      mapped = names.map((image, i) => ({ image, lab: `eth${i}` }));
      notes.push(
        `interfaces: ${mapped.map((m) => `${m.image} -> ${m.lab}`).join(', ')} (the image's physical interfaces ${from}, in device order, onto the lab's ENIs)`,
      );
    }
  }
  const bad = mapped.filter((m) => !LAB_IF.test(m.lab));
  if (bad.length > 0)
    throw new ValidationError(
      'interfaceMap',
      bad.map((m) => ({ path: m.image ?? m.lab, value: m.lab, message: 'lab interfaces are eth0 .. eth15' })),
    );
  if (opts.labInterfaces) {
    const lab = new Set(opts.labInterfaces);
    for (const m of mapped.filter((x) => !lab.has(x.lab)))
      notes.push(`${m.image} maps to ${m.lab}, which the lab node does not have: not replayed`);
    mapped = mapped.filter((m) => lab.has(m.lab));
    for (const l of opts.labInterfaces)
      if (!mapped.some((m) => m.lab === l)) {
        mapped.push({ image: null, lab: l });
        notes.push(`${l} has no interface on the image: it gets what an interface created after boot gets`);
      }
  }
  return mapped;
}

function physicalInterfaces(snapshot: NodeSnapshot): { names: string[]; from: string } {
  const sort = (names: Iterable<string>): string[] => [...new Set(names)].sort(naturalCompare);
  const withKind = snapshot.interfaces.filter((i) => i.kind !== undefined);
  if (withKind.length > 0)
    return {
      names: sort(withKind.filter((i) => i.kind === 'device').map((i) => i.name)),
      from: 'from the link list',
    };
  if (snapshot.interfaces.length > 0)
    return {
      names: sort(snapshot.interfaces.map((i) => i.name).filter((n) => PHYSICAL.test(n))),
      from: 'by name',
    };
  const fromKeys = (keys: Iterable<string>): string[] =>
    sort(
      [...keys]
        .map((k) => /^net\.ipv4\.conf\.([^.]+)\./.exec(k)?.[1]?.replace(/\//g, '.'))
        .filter((n): n is string => n !== undefined && PHYSICAL.test(n)),
    );
  const live = fromKeys(Object.keys(snapshot.sysctls));
  if (live.length > 0) return { names: live, from: 'named in the sysctls' };
  return {
    names: fromKeys(
      snapshot.sysctlFiles.flatMap((f) =>
        f.entries.filter((e) => !isGlob(e.key)).map((e) => normalizeSysctlKey(e.key)),
      ),
    ),
    from: 'named in the sysctl.d files',
  };
}

/** ens5 < ens6 < ens10; eth0 < eth1. */
export function naturalCompare(a: string, b: string): number {
  const pa = a.match(/\d+|\D+/g) ?? [];
  const pb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d/.test(x) && /^\d/.test(y);
    const c = nx ? Number(x) - Number(y) : x < y ? -1 : x > y ? 1 : 0;
    if (c !== 0) return c;
  }
  return 0;
}
