import { lbSnatPolicyRoutingSuite } from './lb-snat-policy-routing.cells.js';
import { describeSuite } from './support/describe-suite.js';

describeSuite(lbSnatPolicyRoutingSuite);
