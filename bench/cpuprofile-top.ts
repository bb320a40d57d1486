/**
 * Top self-time functions of a V8 `.cpuprofile` (as written by `node
 * --cpu-prof`, e.g. `npm run bench:fanout -- --cpu-prof DIR`).
 *
 *   tsx bench/cpuprofile-top.ts FILE.cpuprofile [N]
 *
 * Prints a markdown table: function, file:line, share of busy samples (idle
 * and program/GC roots are listed separately).
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv[2];
if (file === undefined) {
  process.stderr.write('usage: tsx bench/cpuprofile-top.ts FILE.cpuprofile [N]\n');
  process.exit(2);
}
const top = Number(process.argv[3] ?? '15');
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<string, number>();
let total = 0;
let idle = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const node = byId.get(profile.samples[i] as number);
  const dt = profile.timeDeltas[i] ?? 0;
  if (node === undefined) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  if (functionName === '(idle)') {
    idle += dt;
    continue;
  }
  total += dt;
  const where = url === '' ? '' : `${basename(url)}:${lineNumber + 1}`;
  const key = `${functionName || '(anonymous)'}\t${where}`;
  self.set(key, (self.get(key) ?? 0) + dt);
}
const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
process.stdout.write(`busy ${(total / 1e6).toFixed(2)} s, idle ${(idle / 1e6).toFixed(2)} s\n\n`);
process.stdout.write('| function | where | self % of busy |\n|---|---|--:|\n');
for (const [key, us] of rows) {
  const [fn, where] = key.split('\t');
  process.stdout.write(`| \`${fn}\` | ${where} | ${((us / total) * 100).toFixed(1)} |\n`);
}
