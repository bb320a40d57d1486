import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSchema, parse, validate } from 'graphql';
import { queryLimitsRule } from '../../src/http/use-query-limits.js';

const schema = buildSchema('type T { t: T, n: Int } type Query { t: T }');
const check = (q: string) => validate(schema, parse(q), [queryLimitsRule({ maxDepth: 5, maxAliases: 3, maxFields: 20 })]).map((e) => e.message);

test('depth, aliases and field counts are bounded, fragments included', () => {
  assert.deepEqual(check('{ t { t { t { n } } } }'), []);
  assert.deepEqual(check('{ t { t { t { t { t { n } } } } } }'), ['query is deeper than 5 levels']);
  assert.deepEqual(check('fragment F on T { t { t { t { t { n } } } } } { t { ...F } }'), ['query is deeper than 5 levels']);
  assert.deepEqual(check('{ a: t { n } b: t { n } c: t { n } d: t { n } }'), ['query uses more than 3 aliases']);
  const wide = Array.from({ length: 25 }, () => 'n').join(' ');
  assert.deepEqual(check(`{ t { ${wide} } }`), ['query selects more than 20 fields']);
  // A fragment cycle is a validation error elsewhere; here it must not loop.
  assert.ok(Array.isArray(check('fragment A on T { t { ...B } } fragment B on T { t { ...A } } { t { ...A } }')));
});
