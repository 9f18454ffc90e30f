/**
 * Whether a module is the program Node was started with (`node dist/lib/traffic/serve-cli.js ...`),
 * not one imported by another: modules that are both a library and a command run their main only then.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function isEntryPoint(moduleUrl: string): boolean {
  try {
    return !!process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(moduleUrl);
  } catch {
    return false;
  }
}
