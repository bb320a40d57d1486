import { controlPlaneSuite } from './suites/control-plane.js';

controlPlaneSuite('PGlite', () => 'pglite://memory');
