/** Where private engines keep their files: a short runtime directory (sockets) and a data directory (images). */
import { join } from 'node:path';
import { STATE_DIR } from '../lab/state.js';

/** Exec roots and sockets: `<state dir>/engines/<id>` (tmpfs; socket paths must stay short). */
export function engineRunDir(id: string): string {
  return join(STATE_DIR, 'engines', id);
}

/** returnpath's persistent host data: /var/lib/returnpath (RETURNPATH_DATA_DIR overrides it). */
export function dataRoot(): string {
  return process.env['RETURNPATH_DATA_DIR'] || '/var/lib/returnpath';
}

/** Data roots (images can be large, so on disk): `<data root>/engines/<id>`. */
export function engineDataDir(id: string): string {
  return join(dataRoot(), 'engines', id);
}
