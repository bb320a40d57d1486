#!/usr/bin/env node
// Runs every test file (test/**/*.test.ts), each in its own process (node's test
// runner, spec reporter, tsx), TEST_CONCURRENCY (3) at a time, longest first: most
// files wait on timers and peers more than they compute (a run uses ~1.3 of 2 cores).
//
//   npm test [-- FILTER...]      FILTER: substrings of file paths to run
//
// The run always ends, and leaves nothing behind:
// - a file that runs longer than TEST_FILE_TIMEOUT_MS (10 min) is stopped (SIGTERM,
//   then SIGKILL of its process group) and fails;
// - every process started during the run carries STREAM_CASCADE_TEST_RUN in its
//   environment; after each file, and at the end, any that is still alive is killed
//   with its process group, named, and fails the run;
// - temporary files go to one folder per run (STREAM_CASCADE_TEST_TMP, also TMPDIR),
//   removed at the end; the system temp folder must hold nothing new afterwards
//   (STREAM_CASCADE_TEST_TMP_CHECK=warn only reports it, for machines where
//   other jobs write there at the same time).
// Per-file wall times are printed at the end and kept in .tmp/test-durations.json
// to schedule the longest files first next time.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const concurrency = Math.max(1, Number(process.env.TEST_CONCURRENCY ?? 3));
const fileTimeoutMs = Number(process.env.TEST_FILE_TIMEOUT_MS ?? 600_000);
const tmpCheck = process.env.STREAM_CASCADE_TEST_TMP_CHECK ?? 'fail';
const durationsFile = join(root, '.tmp', 'test-durations.json');
const say = (s) => process.stdout.write(`${s}\n`);

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

function readJson(file, fallback) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return fallback;
  }
}

// ---------------------------------------------------------------- processes

const runId = `${process.pid}-${Date.now().toString(36)}`;
const RUN_VAR = 'STREAM_CASCADE_TEST_RUN';
const FILE_VAR = 'STREAM_CASCADE_TEST_FILE';

/** Live processes whose environment carries this run's marker (and `file`'s, when given). */
function markedProcesses(file) {
  const want = [`${RUN_VAR}=${runId}`, ...(file ? [`${FILE_VAR}=${file}`] : [])];
  const found = [];
  let pids;
  try {
    pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return found; // no /proc (not Linux): the process groups killed per file are all we can do
  }
  for (const p of pids) {
    const pid = Number(p);
    if (pid === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${p}/environ`, 'utf8').split('\0');
      if (!want.every((w) => env.includes(w))) continue;
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue; // a zombie is already dead; its parent reaps it
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ').trim().slice(0, 160);
      found.push({ pid, pgid: Number(fields[2]), cmd });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Kills what is left of `file` (or of the whole run): waits `graceMs` for exits in progress, then SIGKILLs the groups. */
async function sweep(file, graceMs) {
  const deadline = Date.now() + graceMs;
  let left = markedProcesses(file);
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(100);
    left = markedProcesses(file);
  }
  for (const p of left) {
    for (const target of [-p.pgid, p.pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  return left;
}

// ---------------------------------------------------------------- temp folder

const sysTmp = os.tmpdir();
const tmpBefore = new Set(readdirSync(sysTmp));
const runTmp = mkdtempSync(join(sysTmp, `stream-cascade-test-${process.pid}-`));
// tsx keeps its compile cache in TMPDIR/tsx-UID: point it at the repo's .tmp/ so it stays warm across runs.
if (process.getuid) {
  const cache = join(root, '.tmp', 'tsx-cache');
  mkdirSync(cache, { recursive: true });
  symlinkSync(cache, join(runTmp, `tsx-${process.getuid()}`));
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/** Entries of the system temp folder that were not there before the run (another live run's folder excepted). */
function newTmpEntries() {
  return readdirSync(sysTmp).filter((name) => {
    if (tmpBefore.has(name)) return false;
    const other = /^stream-cascade-test-(\d+)-/.exec(name);
    return !(other && Number(other[1]) !== process.pid && pidAlive(Number(other[1])));
  });
}

// ---------------------------------------------------------------- one file

const running = new Set();

function parseCounts(out) {
  const counts = {};
  for (const m of out.matchAll(/^ℹ (tests|pass|fail|cancelled|skipped|todo) (\d+)$/gm)) counts[m[1]] = Number(m[2]);
  return counts;
}

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', '--test-reporter=spec', file], {
      cwd: root,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, [RUN_VAR]: runId, [FILE_VAR]: file, STREAM_CASCADE_TEST_TMP: runTmp, TMPDIR: runTmp },
    });
    const entry = { file, child, timedOut: false };
    running.add(entry);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const stopFile = () => {
      // SIGTERM first: the file's own handlers kill the process groups it started.
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch {
        // gone
      }
      setTimeout(() => {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }, 10_000).unref();
    };
    entry.stop = stopFile;
    const timer = setTimeout(() => {
      entry.timedOut = true;
      stopFile();
    }, fileTimeoutMs);
    child.on('close', async (code, signal) => {
      clearTimeout(timer);
      running.delete(entry);
      const ms = Date.now() - started;
      const left = await sweep(file, 2_000);
      resolve({ file, ms, code, signal, out, timedOut: entry.timedOut, left, counts: parseCounts(out) });
    });
  });
}

// ---------------------------------------------------------------- the run

const known = readJson(durationsFile, {});
const files = walk(join(root, 'test'))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  // Longest first (unknown files count as long), so the last files to finish are short ones.
  .sort((a, b) => (known[b] ?? Infinity) - (known[a] ?? Infinity) || a.localeCompare(b));
if (files.length === 0) {
  process.stderr.write(`no test files match ${filters.join(' ')}\n`);
  rmSync(runTmp, { recursive: true, force: true });
  process.exit(1);
}

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    say(`\n# ${sig}: stopping ${running.size} running test file(s)`);
    for (const e of running) e.stop();
  });
}

const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
const runStart = Date.now();
const loadStart = load();
say(`# node ${process.version}; ${files.length} test files, ${concurrency} at a time, per-file timeout ${fileTimeoutMs / 1000} s; load ${loadStart}; temp ${runTmp}`);

const results = [];
const queue = [...files];
async function worker() {
  while (queue.length > 0 && !interrupted) {
    const r = await runFile(queue.shift());
    results.push(r);
    const secs = (r.ms / 1000).toFixed(1);
    say(`\n▶ ${r.file} (${secs} s)`);
    process.stdout.write(r.out.endsWith('\n') || r.out === '' ? r.out : `${r.out}\n`);
    if (r.timedOut) say(`✖ ${r.file}: TIMED OUT after ${fileTimeoutMs / 1000} s (stopped)`);
    for (const p of r.left) say(`✖ ${r.file} left a process behind (killed): pid ${p.pid} pgid ${p.pgid}: ${p.cmd}`);
  }
}
await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));

const strays = await sweep(null, 2_000);
for (const p of strays) say(`✖ a process of this run was still alive at its end (killed): pid ${p.pid} pgid ${p.pgid}: ${p.cmd}`);
rmSync(runTmp, { recursive: true, force: true, maxRetries: 3 });
const leftInTmp = newTmpEntries();

const wall = Date.now() - runStart;
const failed = results.filter((r) => r.code !== 0 || r.timedOut || r.left.length > 0);
const total = {};
for (const r of results) for (const [k, v] of Object.entries(r.counts)) total[k] = (total[k] ?? 0) + v;

// The failures again, just above the summary, so a log cut to its tail still says what failed and why.
for (const f of failed) {
  const at = f.out.lastIndexOf('✖ failing tests:');
  const detail = at >= 0 ? f.out.slice(at) : f.out.slice(-4000);
  const lines = detail.split('\n');
  say(`\n# ✖ ${f.file}: what failed`);
  say(lines.length > 120 ? [...lines.slice(0, 120), `… (${lines.length - 120} more lines above in this file's output)`].join('\n') : detail.trimEnd());
}

say(`\n# per-file wall time (s), longest first`);
for (const r of [...results].sort((a, b) => b.ms - a.ms)) {
  say(`#  ${(r.ms / 1000).toFixed(1).padStart(6)}  ${r.file}${failed.includes(r) ? '  ✖' : ''}`);
}
say(
  `# tests ${total.tests ?? 0}, pass ${total.pass ?? 0}, fail ${total.fail ?? 0}, skipped ${total.skipped ?? 0}, ` +
    `cancelled ${total.cancelled ?? 0}, todo ${total.todo ?? 0}; files ${results.length}/${files.length}, failed files ${failed.length}`,
);
say(`# wall ${(wall / 1000).toFixed(1)} s; load at start ${loadStart}, at end ${load()}`);
for (const f of failed) say(`# ✖ ${f.file}${f.timedOut ? ' (timed out)' : ''}${f.left.length ? ` (left ${f.left.length} process(es))` : ''}`);
if (leftInTmp.length > 0) {
  say(`# ${tmpCheck === 'warn' ? 'warning' : '✖'}: new in ${sysTmp} after the run: ${leftInTmp.join(', ')}`);
}

mkdirSync(join(root, '.tmp'), { recursive: true });
writeFileSync(durationsFile, JSON.stringify({ ...known, ...Object.fromEntries(results.map((r) => [r.file, r.ms])) }, null, 1));

const ok = !interrupted && failed.length === 0 && strays.length === 0 && (leftInTmp.length === 0 || tmpCheck === 'warn');
// The plain closing line CI reads: failed files (a timeout, a process left behind) count as failures too.
const failures = Math.max(total.fail ?? 0, ok ? 0 : 1);
say(`tests: ${total.pass ?? 0} passed, ${failures} failed, ${total.skipped ?? 0} skipped`);
process.exit(ok ? 0 : 1);
