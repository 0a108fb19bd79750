/**
 * Micro-benchmark: SQL filter evaluations per second, compiled once into closures versus a
 * baseline that re-parses the expression for every message (what a naive interpreter does).
 * Bounded by time per case; prints JSON. Run:
 *   node --import tsx packages/bus/bench/rules.bench.ts [--ms 400]
 */
import { parseArgs } from 'node:util';
import { compileRule, compileSqlFilter, type RoutableMessage } from '../src/rules/index.ts';

const { values } = parseArgs({ options: { ms: { type: 'string', default: '400' } } });
const budgetMs = Number(values.ms);

const messages: RoutableMessage[] = Array.from({ length: 1024 }, (_, i) => ({
  body: null,
  subject: i % 3 === 0 ? 'driveby' : 'pickup',
  contentType: 'application/json',
  sequenceNumber: BigInt(i),
  applicationProperties: { storeid: i % 50, color: i % 2 ? 'red' : 'blue', priority: i % 7, region: `r-${i % 5}` },
}));

const filters = {
  simple: "color = 'red'",
  typical: "sys.Label = 'driveby' AND storeid IN (1, 2, 3, 4, 5) AND priority >= 3",
  complex:
    "(color = 'red' OR region LIKE 'r-1%') AND NOT (priority * 2 + 1 > 11) AND EXISTS(storeid) AND sys.ContentType <> 'text/plain'",
};

function measure(run: (m: RoutableMessage) => boolean): { evalsPerSec: number; matched: number } {
  let count = 0;
  let matched = 0;
  // warm-up
  for (const m of messages) run(m);
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(budgetMs) * 1_000_000n;
  let now = start;
  while (now < deadline) {
    for (const m of messages) if (run(m)) matched++;
    count += messages.length;
    now = process.hrtime.bigint();
  }
  const seconds = Number(now - start) / 1e9;
  return { evalsPerSec: Math.round(count / seconds), matched };
}

const results: Record<string, unknown> = {};
for (const [name, expression] of Object.entries(filters)) {
  const compiled = compileSqlFilter(expression);
  const fast = measure(compiled);
  const slow = measure((m) => compileSqlFilter(expression)(m));
  results[name] = {
    expression,
    compiledEvalsPerSec: fast.evalsPerSec,
    reparseEvalsPerSec: slow.evalsPerSec,
    speedup: Math.round((fast.evalsPerSec / slow.evalsPerSec) * 10) / 10,
  };
}

const rule = compileRule({
  name: 'enrich',
  filter: { kind: 'sql', expression: filters.typical },
  action: { sqlExpression: "SET routed = 'yes'; SET score = priority * 10; REMOVE color" },
});
const action = measure((m) => rule.apply(m) !== m);
const correlation = compileRule({
  name: 'corr',
  filter: { kind: 'correlation', subject: 'driveby', applicationProperties: { color: 'red' } },
});
results.action = { applyPerSec: action.evalsPerSec };
results.correlation = { evalsPerSec: measure((m) => correlation.matches(m)).evalsPerSec };

process.stdout.write(
  `${JSON.stringify({ bench: 'bus-rules', budgetMsPerCase: budgetMs, node: process.version, results }, null, 2)}\n`,
);
