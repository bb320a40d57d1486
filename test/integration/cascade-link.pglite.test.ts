import { cascadeLinkSuite } from './suites/cascade-link.js';

cascadeLinkSuite('PGlite', async () => 'pglite://memory');
