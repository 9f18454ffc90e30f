/**
 * CNI network configuration lists (containernetworking/cni SPEC.md, "Network configuration
 * lists"): validated with precise problems (path, value, what is allowed). A single plugin
 * configuration (`.conf`, `type` at the top) is turned into a list of one, as libcni's
 * ConfListFromConf does.
 */
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { renderPath, renderValue } from './zod-problems.js';

/** CNI spec versions whose results and CHECK semantics this runtime knows. */
export const CNI_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof CNI_VERSIONS)[number];

/** SPEC.md: network names start alphanumeric and hold letters, digits, `_`, `.`, `-`. */
const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
/** A plugin type names a binary in CNI_PATH: no slashes, no leading dot. */
const PLUGIN_TYPE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export const PluginConfSchema = z.looseObject({
  type: z
    .string()
    .regex(PLUGIN_TYPE, 'must name a plugin binary in CNI_PATH: letters, digits, "_", ".", "-", no "/"'),
  /** Capabilities the plugin wants from the runtime (runtimeConfig keys), e.g. `{ "portMappings": true }`. */
  capabilities: z.record(z.string(), z.boolean()).optional(),
});
export type PluginConf = z.infer<typeof PluginConfSchema>;

export const ConflistSchema = z.looseObject({
  cniVersion: z.enum(CNI_VERSIONS, { message: `must be one of ${CNI_VERSIONS.join(', ')}` }),
  name: z.string().regex(NETWORK_NAME, 'must start alphanumeric and hold letters, digits, "_", ".", "-"'),
  disableCheck: z.boolean().optional(),
  plugins: z.array(PluginConfSchema).min(1, 'must list at least one plugin'),
});
export type Conflist = z.infer<typeof ConflistSchema>;

/**
 * A conflist (or a single plugin conf) from parsed JSON/YAML data. Problems carry `pathPrefix`
 * (e.g. `nodes[0].cni.conflist`) so they point into the document the user wrote.
 */
export function parseConflist(data: unknown, source: string, pathPrefix = ''): Conflist {
  const join = (p: string): string => (pathPrefix && p ? `${pathPrefix}.${p}` : pathPrefix || p);
  const fail = (path: string, value: unknown, message: string): never => {
    throw new ValidationError(source, [{ path: join(path), value: renderValue(value), message }]);
  };
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    fail('', data, 'must be a CNI network configuration list (an object with cniVersion, name, plugins)');
  const obj = data as Record<string, unknown>;
  const list =
    'plugins' in obj
      ? obj
      : 'type' in obj
        ? { cniVersion: obj['cniVersion'], name: obj['name'], plugins: [obj] }
        : fail(
            'plugins',
            undefined,
            'missing: a conflist lists its plugins (or give one plugin conf with "type")',
          );
  const parsed = ConflistSchema.safeParse(list, { reportInput: true });
  if (!parsed.success)
    throw new ValidationError(
      source,
      parsed.error.issues.map((i) => ({
        path: join(renderPath(i.path)),
        value: renderValue((i as { input?: unknown }).input),
        message: i.message,
      })),
    );
  return parsed.data;
}

/** Parses `text` (JSON) into a conflist; a syntax error is a ValidationError too. */
export function parseConflistText(text: string, source: string, pathPrefix = ''): Conflist {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ValidationError(source, [
      {
        path: pathPrefix,
        value: renderValue(text.slice(0, 40)),
        message: `not JSON: ${(e as Error).message}`,
      },
    ]);
  }
  return parseConflist(data, source, pathPrefix);
}

/** Does the spec version support CHECK (0.4.0 and later)? */
export function supportsCheck(version: CniVersion): boolean {
  return !version.startsWith('0.3.');
}
