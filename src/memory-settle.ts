/**
 * Gives back the young generation an idle node does not use.
 *
 * V8 grows the young generation (new space) to its maximum, 2 × 16 MB, during the
 * allocation bursts of start-up (module loading, the database, GraphQL's schema)
 * and shrinks it only at a collection that sees a low allocation rate. An idle
 * node allocates so little that it rarely collects, so it would keep those ~30 MB
 * resident for hours. A young-generation collection every little while lets V8
 * decide: it shrinks the space when allocation has been low and leaves it alone on
 * a busy node (fan-out allocates far more than the threshold, and a small young
 * generation costs fan-out 20-30 % CPU per byte: docs/BENCHMARKS.md, start time and
 * idle memory). A collection of a near-empty young generation takes well under a
 * millisecond.
 *
 * Process-wide, so only the program (src/main.ts) starts it, never an app in a test.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

type Gc = (options: { type: 'minor'; execution: 'sync' }) => void;

/**
 * After start: every 3 s for half a minute (start-up ends at a time that depends on
 * the machine, GraphQL loads 2 s after the first listener, and V8 acts on the second
 * collection after a quiet spell), then every `everyMs`.
 */
const FIRST_MS = Array.from({ length: 10 }, (_, i) => (i + 1) * 3_000);

/** V8's own gc(), whether or not the process was started with --expose-gc. */
function collector(): Gc | null {
  const existing = (globalThis as { gc?: unknown }).gc;
  if (typeof existing === 'function') return existing as Gc;
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as unknown;
    v8.setFlagsFromString('--no-expose-gc');
    return typeof gc === 'function' ? (gc as Gc) : null;
  } catch {
    return null;
  }
}

/** Starts the settling; returns a stop function. Does nothing where V8 offers no collector. */
export function startMemorySettle(everyMs = 30_000): () => void {
  const gc = collector();
  if (!gc) return () => {};
  const collect = (): void => gc({ type: 'minor', execution: 'sync' });
  const timers = FIRST_MS.map((ms) => setTimeout(collect, ms).unref());
  const every = setInterval(collect, everyMs).unref();
  return () => {
    for (const t of timers) clearTimeout(t);
    clearInterval(every);
  };
}
