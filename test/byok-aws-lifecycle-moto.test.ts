/** The AWS key lifecycle suite (test/byok-lifecycle-suite.ts) on moto (`python3 -m moto.server`). */
import { lifecycleSuite } from './byok-lifecycle-suite.js';

lifecycleSuite('moto');
