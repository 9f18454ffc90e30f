/** Which returnpath made a file (results, certificates), as a zod schema shared by their formats. */
import { z } from 'zod';

export const ProvenanceSchema = z.object({
  version: z.string().min(1),
  commit: z.string().nullable().describe('The git commit it was built from; null when unknown.'),
  dirty: z.boolean().describe('The checkout had uncommitted changes when it was built.'),
});
