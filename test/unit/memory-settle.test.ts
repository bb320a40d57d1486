import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import { startMemorySettle } from '../../src/memory-settle.js';

const newSpaceMb = (): number => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_size / 1_048_576;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** An allocation burst with survivors, as start-up makes: V8 grows the young generation to its maximum. */
function burst(): void {
  let keep: unknown[] = [];
  for (let i = 0; i < 2_000_000; i++) {
    keep.push({ i, s: `x${i}` });
    if (keep.length > 200_000) keep = [];
  }
}

test('the young generation a burst grew is given back once allocation is quiet, and only then', async () => {
  burst();
  const grown = newSpaceMb();
  assert.ok(grown >= 16, `the burst grew the young generation (${grown} MB)`);
  await sleep(1_000);
  assert.ok(newSpaceMb() >= 16, `left alone, V8 keeps it (${newSpaceMb()} MB)`);
  const stop = startMemorySettle(200);
  try {
    const t0 = performance.now();
    while (newSpaceMb() > 2 && performance.now() - t0 < 15_000) await sleep(100);
    assert.ok(newSpaceMb() <= 2, `given back within 15 s (${newSpaceMb()} MB)`);
    // The settling never pins it small: the next burst grows it again.
    burst();
    assert.ok(newSpaceMb() >= 8, `grown again by a new burst (${newSpaceMb()} MB)`);
  } finally {
    stop();
  }
});
