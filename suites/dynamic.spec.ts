import { dynamicSuite } from '../lib/scenario/dynamic.js';
import { describeSuite } from './support/describe-suite.js';

const suite = dynamicSuite();
if (suite) describeSuite(suite);
