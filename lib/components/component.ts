/** What an external component is: a name, a pinned version, the files a build leaves, how to build them. */
import type { CommandResult, RunOptions } from '../exec/command.js';

export interface BuildContext {
  /** Where the build writes its files (a temporary directory, moved into the cache on success). */
  readonly outDir: string;
  /** Scratch space, removed after the build. */
  readonly workDir: string;
  /** A progress line. */
  log(line: string): void;
  /** Runs argv (never a shell string) with a heartbeat line while it takes long. */
  run(
    argv: readonly string[],
    opts?: RunOptions & { cwd?: string; env?: NodeJS.ProcessEnv; what?: string },
  ): Promise<CommandResult>;
}

export interface Component {
  readonly name: string;
  /** One line for `components list`. */
  readonly description: string;
  /** The pinned version (a Debian package's installed version for system components). */
  version(): Promise<string>;
  /** Paths relative to the component's directory that a finished build holds. */
  readonly files: readonly string[];
  /** Everything besides name and version that changes what the build produces (hashed into the cache key). */
  recipe(): Promise<string>;
  build(ctx: BuildContext): Promise<void>;
  /** Rough cold build time, for the message that says a component is missing. */
  readonly coldBuildHint: string;
}

/** A component's build as recorded in its cache directory. */
export interface ComponentManifest {
  name: string;
  version: string;
  /** sha256 of the recipe, first 12 hex digits: part of the directory name. */
  recipeHash: string;
  files: string[];
  builtAt: string;
  buildSeconds: number;
  /** `go version` of the toolchain, for Go builds. */
  toolchain?: string;
}
