/**
 * Temporary files of tests live under one folder per run: test/run.mjs creates it,
 * passes it as STREAM_CASCADE_TEST_TMP (and TMPDIR, for tools that use the system
 * temp folder) and removes it at the end. A test file run on its own gets a
 * folder of its own under os.tmpdir(), removed when its process exits.
 * Artifacts worth keeping (screenshots) go to {@link artifactPath} instead.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

let own: string | null = null;

/** The folder every temporary file of this test process goes under. */
export function testTmpRoot(): string {
  const fromRun = process.env.STREAM_CASCADE_TEST_TMP;
  if (fromRun) {
    mkdirSync(fromRun, { recursive: true });
    return fromRun;
  }
  if (own === null) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'stream-cascade-test-'));
    own = dir;
    process.on('exit', () => rmSync(dir, { recursive: true, force: true, maxRetries: 3 }));
  }
  return own;
}

/** A new empty folder under {@link testTmpRoot}, named `prefix` + random characters. */
export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(testTmpRoot(), prefix));
}

/** Removes a folder made by {@link tempDir} (nothing if it is gone). */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** A path in the repository's git-ignored `.tmp/` folder, for artifacts kept after the run. */
export function artifactPath(name: string): string {
  const dir = path.join(ROOT, '.tmp');
  mkdirSync(dir, { recursive: true });
  return path.join(dir, name);
}
