/** Polling for in-process conditions (bounded in time). */

/** Waits until `pred()` holds, checking every 20 ms; throws after `timeoutMs` (a safety net, not a budget). */
export async function waitUntil(what: string, pred: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
