/**
 * Every child process a test starts goes through {@link spawnTracked}: it is a
 * process-group leader (`detached: true`), so one `kill(-pid)` ends it and
 * anything it started, and it is tracked from the moment it exists. Whatever
 * way a test file ends — tests done, a failed `before`, a thrown assertion, a
 * start that timed out, SIGTERM/SIGINT from the runner, `process.exit` — every
 * tracked group still alive is killed:
 *
 * - at the end of the test file (a root-level `after` hook, registered when the
 *   main module is a `*.test.ts` file), which also stops in-process resources
 *   registered with {@link trackTeardown};
 * - on `exit` and on SIGTERM/SIGINT/SIGHUP of the test process (synchronously).
 *
 * test/run.mjs sweeps whatever is left after a file by an environment marker.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { after } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';

interface Entry {
  child: ChildProcess;
  /** Resolves when the leader exited (its code, or null when killed by a signal). */
  exited: Promise<number | null>;
}

const live = new Map<number, Entry>();
const everSpawned: number[] = [];
const teardowns = new Set<() => Promise<unknown>>();

/** Sends `signal` to the process group led by `pid`; true if the group existed. */
export function killGroup(pid: number, signal: NodeJS.Signals = 'SIGKILL'): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

function killAllSync(): void {
  for (const pid of live.keys()) killGroup(pid, 'SIGKILL');
}

process.on('exit', killAllSync);
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  const onSignal = (): void => {
    killAllSync();
    process.off(sig, onSignal);
    // No other handler: die of the signal as the process would have without us.
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  };
  process.on(sig, onSignal);
}

if (/\.test\.[cm]?[jt]s$/.test(process.argv[1] ?? '')) {
  // Imported at load time of a test file: this hook belongs to the file's root and runs last.
  after(stopEverything);
}

/**
 * `spawn` as a process-group leader, tracked until its group is gone. The
 * child's `exit` is observed here; use {@link exitOf} to await it.
 */
export function spawnTracked(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(command, args, { ...options, detached: true });
  if (child.pid === undefined) {
    // Spawn failed (ENOENT, …): nothing runs; 'error' is emitted on the child.
    return child;
  }
  const pid = child.pid;
  everSpawned.push(pid);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      // The leader is gone; anything left in its group (it started no others here) dies with it.
      killGroup(pid, 'SIGKILL');
      live.delete(pid);
      resolve(code);
    }),
  );
  live.set(pid, { child, exited });
  return child;
}

/** Resolves with the exit code (null when killed by a signal) once the child exited. */
export function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  const e = child.pid === undefined ? undefined : live.get(child.pid);
  if (e) return e.exited;
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/**
 * Sends `signal` to the child's process group and waits for it to exit; if it
 * has not exited after `graceMs`, kills the group with SIGKILL. Returns the exit code.
 */
export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return child.exitCode;
  const pid = child.pid;
  const exited = exitOf(child);
  killGroup(pid, signal);
  const t = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs);
  try {
    return await exited;
  } finally {
    clearTimeout(t);
  }
}

/** Pids of every process spawned by this test process (alive or not), oldest first. */
export function spawnedPids(): readonly number[] {
  return everSpawned;
}

/**
 * Registers an in-process resource (a node, a server) to stop at the end of the
 * file if the test did not; returns the function that unregisters it.
 */
export function trackTeardown(stop: () => Promise<unknown>): () => void {
  teardowns.add(stop);
  return () => teardowns.delete(stop);
}

/** Stops every tracked in-process resource and kills every tracked process group (bounded). */
export async function stopEverything(): Promise<void> {
  const pending = [...teardowns];
  teardowns.clear();
  const bound = <T>(p: Promise<T>, ms: number): Promise<T | undefined> =>
    Promise.race([p, delay(ms, undefined, { ref: false })]);
  await Promise.all(pending.map((stop) => bound(stop().catch(() => undefined), 15_000)));
  await Promise.all([...live.values()].map((e) => bound(stopProcess(e.child, 'SIGKILL', 5_000), 10_000)));
}

/**
 * Starts several things at once. If any start fails, the ones that did start are
 * stopped (the failed ones clean up after themselves) before the first error is
 * thrown: a failed parallel start leaves nothing running.
 */
export async function startAll<T>(starts: readonly Promise<T>[], stop: (started: T) => Promise<unknown>): Promise<T[]> {
  let first: { err: unknown } | null = null;
  const settled = await Promise.allSettled(
    starts.map((p) =>
      p.catch((err: unknown) => {
        first ??= { err };
        throw err;
      }),
    ),
  );
  if (first === null) return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
  await Promise.all(settled.map((s) => (s.status === 'fulfilled' ? stop(s.value).catch(() => undefined) : undefined)));
  throw (first as { err: unknown }).err;
}
