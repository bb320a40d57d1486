#!/usr/bin/env node
// Entry point for `npx stream-cascade`: the compiled program in dist/ (`npm run build`,
// run by `npm install`), or src/main.ts through tsx when it has not been built.
import { existsSync } from 'node:fs';

const dist = new URL('../dist/src/main.js', import.meta.url);
if (existsSync(dist)) {
  await import(dist.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
