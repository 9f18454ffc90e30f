import { baselineSuite } from './baseline.cells.js';
import { describeSuite } from './support/describe-suite.js';

describeSuite(baselineSuite);
