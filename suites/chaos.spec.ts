import { chaosSuite } from './chaos.cells.js';
import { describeSuite } from './support/describe-suite.js';

describeSuite(chaosSuite);
