#!/usr/bin/env node
// Entry point for `npx stream-cascade`: runs src/main.ts through tsx.
import { register } from 'tsx/esm/api';
register();
await import('../src/main.ts');
