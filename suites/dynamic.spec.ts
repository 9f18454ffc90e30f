import { dynamicSuites } from '../lib/scenario/dynamic.js';
import { describeSuite } from './support/describe-suite.js';

for (const suite of dynamicSuites()) describeSuite(suite);
