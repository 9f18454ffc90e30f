import { eniRpFilterSuite } from './eni-rp-filter.cells.js';
import { describeSuite } from './support/describe-suite.js';

describeSuite(eniRpFilterSuite);
