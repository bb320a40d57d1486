/**
 * The layers, read from the import lines of the program's own files: no import circle
 * (type-only imports count: they still tie two files together), the data plane imports
 * nothing from the control plane, resolvers never touch TypeORM or the data plane, and
 * only one file imports the QUIC binding.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const IMPORT = /^(?:import|export)\s[^;]*?from\s+'([^']+)'/gm;

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(rel));
    else if (e.name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

const files = ['src', 'dataplane', 'resolvers'].flatMap(sources);
const imports = new Map<string, string[]>(
  files.map((f) => [f, [...readFileSync(path.join(ROOT, f), 'utf8').matchAll(IMPORT)].map((m) => m[1] ?? '')]),
);

/** The program files `file` imports (relative specifiers resolved, .js → .ts). */
function localDeps(file: string): string[] {
  return (imports.get(file) ?? [])
    .filter((s) => s.startsWith('.'))
    .map((s) => path.normalize(path.join(path.dirname(file), s.replace(/\.js$/, '.ts'))))
    .filter((f) => imports.has(f));
}

test('no import circles among the program files', () => {
  const state = new Map<string, 'open' | 'done'>();
  const circles: string[] = [];
  const visit = (f: string, trail: string[]): void => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'open') {
      circles.push([...trail.slice(trail.indexOf(f)), f].join(' → '));
      return;
    }
    state.set(f, 'open');
    for (const d of localDeps(f)) visit(d, [...trail, f]);
    state.set(f, 'done');
  };
  for (const f of files) visit(f, []);
  assert.deepEqual(circles, []);
});

test('the layers hold: dataplane ↛ src, resolvers ↛ TypeORM and dataplane, one file imports the QUIC binding', () => {
  const offending = (pred: (file: string, spec: string) => boolean): string[] =>
    files.flatMap((f) => (imports.get(f) ?? []).filter((s) => pred(f, s)).map((s) => `${f}: ${s}`));
  assert.deepEqual(
    offending((f, s) => f.startsWith('dataplane') && s.startsWith('.') && path.normalize(path.join(path.dirname(f), s)).startsWith('src')),
    [],
  );
  assert.deepEqual(offending((f, s) => f.startsWith('resolvers') && (s === 'typeorm' || s.includes('dataplane/'))), []);
  const quic = files.filter((f) => (imports.get(f) ?? []).some((s) => s.startsWith('@matrixai/quic')));
  assert.deepEqual(quic, [path.join('dataplane', 'transport', 'quic-native.ts')]);
});

test('no dead exports: every name a program file exports is used by another file (program, tests, benchmarks or scripts)', () => {
  const others = ['src', 'dataplane', 'resolvers', 'schema', 'test', 'bench', 'scripts']
    .flatMap((d) => sources(d))
    .filter((f) => !f.includes(`${path.sep}generated${path.sep}`));
  const text = new Map(others.map((f) => [f, readFileSync(path.join(ROOT, f), 'utf8')]));
  const DECL = /^export\s+(?:async\s+)?(?:function\*?|class|const|let|interface|type|enum|abstract class)\s+([A-Za-z_$][\w$]*)/gm;
  const dead: string[] = [];
  for (const f of files) {
    for (const m of (text.get(f) ?? '').matchAll(DECL)) {
      const name = m[1] ?? '';
      const word = new RegExp(`\\b${name.replace(/\$/g, '\\$')}\\b`);
      if (!others.some((g) => g !== f && word.test(text.get(g) ?? ''))) dead.push(`${f}: ${name}`);
    }
  }
  assert.deepEqual(dead, [], 'exported but used nowhere else: drop the export (or the code)');
});
