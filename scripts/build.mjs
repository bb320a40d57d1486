#!/usr/bin/env node
// `npm run build` (and `prepare`, so `npm install`/`npm ci`): compiles the program to
// dist/ (tsconfig.build.json), copies the files tsc does not emit, makes the PGlite
// template (src/db/pglite-template.ts) that new embedded databases are copied from, and
// builds the operator console (console/, Vite) into dist/console/, which the node serves
// at `/`. Without the dev dependencies (vite) the console is skipped with a note.
// Plain JavaScript: it runs before anything is compiled.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = path.join(root, 'dist');

function run(args) {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

rmSync(dist, { recursive: true, force: true });
run([path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json']);
for (const f of ['src/db/pglite-worker.mjs']) {
  mkdirSync(path.dirname(path.join(dist, f)), { recursive: true });
  copyFileSync(path.join(root, f), path.join(dist, f));
}
// src/version.ts reads ../package.json: from dist/src that is dist/package.json.
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
writeFileSync(path.join(dist, 'package.json'), `${JSON.stringify({ name: pkg.name, version: pkg.version, type: 'module', private: true }, null, 2)}\n`);
run([path.join(dist, 'src/db/make-template.js')]);

const vite = path.join(root, 'node_modules/vite/bin/vite.js');
if (existsSync(vite)) {
  run([vite, 'build', '--config', path.join(root, 'console/vite.config.ts')]);
} else {
  process.stderr.write('build: vite is not installed (dev dependencies omitted): the console (dist/console/) is not built; `/` will say so\n');
}
