import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BoundedLabels, OTHER_LABEL } from '../../src/metrics/bounded-labels.js';

test('bounded labels: at most max own labels, first come keep theirs for good, the rest are "other"', () => {
  fc.assert(
    fc.property(fc.nat(20), fc.array(fc.string({ maxLength: 4 }), { maxLength: 200 }), (max, values) => {
      const labels = new BoundedLabels(max);
      const given = new Map<string, string>();
      for (const v of values) {
        const l = labels.label(v);
        assert.ok(l === v || l === OTHER_LABEL);
        const before = given.get(v);
        if (before !== undefined) assert.equal(l, before, 'a value keeps its label');
        given.set(v, l);
      }
      const own = new Set([...given.entries()].filter(([v, l]) => l === v && v !== OTHER_LABEL).map(([v]) => v));
      assert.ok(own.size <= max);
      // Exactly the first `max` distinct values (other than "other") got their own label.
      const firsts = [...new Set(values.filter((v) => v !== OTHER_LABEL))].slice(0, max);
      assert.deepEqual([...own].sort(), firsts.sort());
    }),
  );
});
