/**
 * A CNI runtime with libcni's semantics (containernetworking/cni libcni/api.go):
 * - ADD runs the list's plugins in order; each gets the list's name and cniVersion, the previous
 *   plugin's result as `prevResult`, and `runtimeConfig` holding only the capability arguments it
 *   declares in `capabilities`. The last result is the list's result and is cached on disk.
 * - CHECK (cniVersion 0.4.0+, unless the list sets disableCheck) runs the plugins in order with the
 *   cached ADD result as `prevResult`; without a cached result it is an error.
 * - DEL runs the plugins in reverse order with the cached result as `prevResult` (when there is
 *   one), then forgets the cache. A DEL without a cached result still runs (plugins must tolerate it).
 * - VERSION asks a plugin which spec versions it speaks; validateNetworkList uses it.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { supportsCheck, type Conflist, type PluginConf } from '../../model/conflist.js';
import { CniError, findPlugin, invokePlugin, type CniCommand, type InvokeOptions } from './invoke.js';

export interface RuntimeConf {
  containerId: string;
  /** Path of the container's network namespace. */
  netns: string;
  ifName: string;
  /** CNI_ARGS. */
  args?: readonly (readonly [string, string])[];
  /** Capability arguments offered to plugins (runtimeConfig), e.g. `{ portMappings: [...] }`. */
  capabilityArgs?: Readonly<Record<string, unknown>>;
}

export interface CniRuntimeOptions extends InvokeOptions {
  /** Directories searched for plugin binaries, in order (CNI_PATH). */
  binDirs: readonly string[];
  /** Where ADD results are cached for CHECK and DEL. */
  cacheDir: string;
}

export interface CachedResult {
  kind: 'cniCacheV1';
  containerId: string;
  ifName: string;
  networkName: string;
  config: Conflist;
  result: unknown;
}

/** Thrown when a plugin named by a conflist is not in any bin directory. */
export class PluginNotFoundError extends Error {
  override readonly name = 'PluginNotFoundError';
  constructor(
    readonly type: string,
    readonly binDirs: readonly string[],
  ) {
    super(`plugin "${type}" not found in ${binDirs.join(', ')}`);
  }
}

export class CniRuntime {
  private readonly binaries = new Map<string, string>();

  constructor(private readonly opts: CniRuntimeOptions) {}

  get binDirs(): readonly string[] {
    return this.opts.binDirs;
  }

  async binary(type: string): Promise<string> {
    const known = this.binaries.get(type);
    if (known) return known;
    const found = await findPlugin(type, this.opts.binDirs);
    if (!found) throw new PluginNotFoundError(type, this.opts.binDirs);
    this.binaries.set(type, found);
    return found;
  }

  /** The spec versions a plugin reports (VERSION). */
  async pluginVersions(type: string, cniVersion: string): Promise<string[]> {
    const out = (await invokePlugin(
      type,
      await this.binary(type),
      { cniVersion },
      { command: 'VERSION', containerId: '', netns: '', ifName: '', args: [], path: this.opts.binDirs },
      { ...this.opts, wrap: undefined },
    )) as { supportedVersions?: unknown };
    const v = out?.supportedVersions;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  }

  /**
   * Every plugin of the list exists and speaks the list's cniVersion (libcni ValidateNetworkList).
   * Returns the problems, one per plugin, as [plugin index, message].
   */
  async validateNetworkList(list: Conflist): Promise<[number, string][]> {
    const problems: [number, string][] = [];
    for (const [i, p] of list.plugins.entries()) {
      try {
        const versions = await this.pluginVersions(p.type, list.cniVersion);
        if (!versions.includes(list.cniVersion))
          problems.push([
            i,
            `plugin ${p.type} does not speak cniVersion ${list.cniVersion} (it supports ${versions.join(', ') || 'nothing it reports'})`,
          ]);
      } catch (e) {
        problems.push([i, (e as Error).message]);
      }
    }
    return problems;
  }

  async addNetworkList(list: Conflist, rt: RuntimeConf): Promise<unknown> {
    let prevResult: unknown;
    for (const plugin of list.plugins) prevResult = await this.call('ADD', plugin, list, rt, prevResult);
    await this.writeCache(list, rt, prevResult);
    return prevResult;
  }

  async checkNetworkList(list: Conflist, rt: RuntimeConf): Promise<void> {
    if (list.disableCheck) return;
    if (!supportsCheck(list.cniVersion))
      throw new Error(
        `network ${list.name}: cniVersion ${list.cniVersion} does not support CHECK (0.4.0 and later do)`,
      );
    const cached = await this.readCache(list, rt);
    if (!cached)
      throw new Error(
        `network ${list.name}: no cached ADD result for container ${rt.containerId} ${rt.ifName}; CHECK needs one`,
      );
    for (const plugin of list.plugins) await this.call('CHECK', plugin, list, rt, cached.result);
  }

  async delNetworkList(list: Conflist, rt: RuntimeConf): Promise<void> {
    const cached = await this.readCache(list, rt);
    for (const plugin of [...list.plugins].reverse())
      await this.call('DEL', plugin, list, rt, cached?.result);
    await rm(this.cachePath(list, rt), { force: true });
  }

  /** The cached ADD result of a container, if any. */
  async cachedResult(list: Conflist, rt: Pick<RuntimeConf, 'containerId' | 'ifName'>): Promise<unknown> {
    return (await this.readCache(list, rt))?.result;
  }

  private async call(
    command: CniCommand,
    plugin: PluginConf,
    list: Conflist,
    rt: RuntimeConf,
    prevResult: unknown,
  ): Promise<unknown> {
    const conf = buildPluginConf(plugin, list, prevResult, rt.capabilityArgs);
    return invokePlugin(
      plugin.type,
      await this.binary(plugin.type),
      conf,
      {
        command,
        containerId: rt.containerId,
        netns: rt.netns,
        ifName: rt.ifName,
        args: rt.args ?? [],
        path: this.opts.binDirs,
      },
      this.opts,
    );
  }

  private cachePath(list: Conflist, rt: Pick<RuntimeConf, 'containerId' | 'ifName'>): string {
    return join(this.opts.cacheDir, `${list.name}-${rt.containerId}-${rt.ifName}`);
  }

  private async writeCache(list: Conflist, rt: RuntimeConf, result: unknown): Promise<void> {
    await mkdir(this.opts.cacheDir, { recursive: true });
    const entry: CachedResult = {
      kind: 'cniCacheV1',
      containerId: rt.containerId,
      ifName: rt.ifName,
      networkName: list.name,
      config: list,
      result,
    };
    await writeFile(this.cachePath(list, rt), JSON.stringify(entry));
  }

  private async readCache(
    list: Conflist,
    rt: Pick<RuntimeConf, 'containerId' | 'ifName'>,
  ): Promise<CachedResult | undefined> {
    const text = await readFile(this.cachePath(list, rt), 'utf8').catch(() => undefined);
    return text === undefined ? undefined : (JSON.parse(text) as CachedResult);
  }
}

/**
 * One plugin's stdin (libcni buildOneConfig + injectRuntimeConfig): the plugin's own keys, the
 * list's name and cniVersion, prevResult, and runtimeConfig restricted to declared capabilities.
 */
export function buildPluginConf(
  plugin: PluginConf,
  list: Pick<Conflist, 'name' | 'cniVersion'>,
  prevResult: unknown,
  capabilityArgs: Readonly<Record<string, unknown>> = {},
): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
  if (prevResult !== undefined) conf['prevResult'] = prevResult;
  const runtimeConfig: Record<string, unknown> = {};
  for (const [cap, on] of Object.entries(plugin.capabilities ?? {}))
    if (on && cap in capabilityArgs) runtimeConfig[cap] = capabilityArgs[cap];
  if (Object.keys(runtimeConfig).length > 0) conf['runtimeConfig'] = runtimeConfig;
  return conf;
}

export { CniError };
