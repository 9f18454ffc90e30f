/**
 * A component that comes from a Debian package instead of a build (the install step installs it):
 * it is "built" when the package's files are where the package puts them.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { CommandRunner } from '../exec/command.js';
import { EnvironmentError } from '../errors.js';
import type { BuildContext, Component } from './component.js';

export class DebianPackageComponent implements Component {
  readonly coldBuildHint = 'seconds (apt-get install)';

  constructor(
    readonly name: string,
    readonly description: string,
    readonly packageName: string,
    /** Where the package installs the files. */
    readonly systemDir: string,
    readonly files: readonly string[],
    private readonly runner = new CommandRunner(),
  ) {}

  async version(): Promise<string> {
    const r = await this.runner
      .run(['dpkg-query', '-W', '-f=${Version}', this.packageName], { allowFailure: true })
      .catch(() => undefined);
    return r?.code === 0 && r.stdout.trim() ? r.stdout.trim() : 'not-installed';
  }

  recipe(): Promise<string> {
    return Promise.resolve(JSON.stringify({ package: this.packageName, dir: this.systemDir }));
  }

  /** Checks the package's files; a missing one is an environment problem naming the install command. */
  async build(ctx?: BuildContext): Promise<void> {
    const missing: string[] = [];
    for (const f of this.files)
      await access(join(this.systemDir, f)).catch(() => missing.push(join(this.systemDir, f)));
    if (missing.length > 0)
      throw new EnvironmentError(
        `${this.name}: ${missing.join(', ')} missing; install the Debian package: apt-get install ${this.packageName}`,
      );
    ctx?.log(`${this.name}: Debian package ${this.packageName} ${await this.version()} in ${this.systemDir}`);
  }
}
