import { crossZoneCollisionSuite } from './cross-zone-collision.cells.js';
import { describeSuite } from './support/describe-suite.js';

describeSuite(crossZoneCollisionSuite);
