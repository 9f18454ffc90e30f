import { nlbHairpinSuite } from './nlb-hairpin.cells.js';
import { describeSuite } from './support/describe-suite.js';

describeSuite(nlbHairpinSuite);
