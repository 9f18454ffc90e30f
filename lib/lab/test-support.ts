/** Shared by integration tests: skip only when root or a tool is truly absent. */
import { labUnavailable } from './environment.js';

export { labUnavailable };

/** In a mocha `before`: skips the suite with the reason when the lab cannot run. */
export function requireLab(ctx: Mocha.Context): void {
  const why = labUnavailable();
  if (why) {
    console.log(`      skipped: ${why}`);
    ctx.skip();
  }
}
