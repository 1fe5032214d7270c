/** The AWS key lifecycle suite (test/byok-lifecycle-suite.ts) on the KMS simulator. */
import { lifecycleSuite } from './byok-lifecycle-suite.js';

lifecycleSuite('sim');
