import { suiteById } from './catalog.js';
import { describeSuite } from './support/describe-suite.js';

describeSuite(suiteById('cross-zone-collision'));
