#!/usr/bin/env node
// Lists the test files itself (Node 20 neither expands globs nor finds .ts files in directory
// mode), runs them with node:test through tsx, and fails when it finds none.
//   node scripts/test.mjs [path-filter ...]
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const roots = ['packages', 'apps', 'examples', 'scripts'];
const skipDirs = new Set(['node_modules', 'dist', '.git', 'test-artifacts']);

function walk(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (skipDirs.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.test.ts') || name.endsWith('.test.mjs')) out.push(relative(root, path));
  }
  return out;
}

const filters = process.argv.slice(2);
const files = roots
  .flatMap((r) => walk(join(root, r), []))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

if (files.length === 0) {
  console.error(`scripts/test.mjs: no test files found${filters.length ? ` matching ${filters.join(', ')}` : ''}`);
  process.exit(1);
}

const concurrency = process.env.TEST_CONCURRENCY ?? '2';
// Node 20 gives each test file the --test-timeout as a whole; a file that starts a cluster and
// kills it several times declares more with a `// test-timeout: MS` line and runs in a second batch.
const DEFAULT_TIMEOUT = 120000;
const timeoutOf = (f) =>
  Number(/^\/\/ test-timeout: (\d+)$/m.exec(readFileSync(join(root, f), 'utf8'))?.[1] ?? DEFAULT_TIMEOUT);
const batches = new Map();
for (const f of files) batches.set(timeoutOf(f), [...(batches.get(timeoutOf(f)) ?? []), f]);

// `--conditions=source`: workspace packages resolve to their TypeScript sources (the `source`
// export condition), so tests never run a stale build.
const runBatch = (timeout, batch) =>
  new Promise((resolve) => {
    const args = [
      '--conditions=source',
      '--import',
      'tsx',
      '--test',
      `--test-concurrency=${concurrency}`,
      `--test-timeout=${timeout}`,
      ...batch,
    ];
    const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' });
    child.on('exit', (code, signal) => resolve(signal ? 1 : (code ?? 1)));
  });
let failed = 0;
for (const [timeout, batch] of [...batches].sort((a, b) => a[0] - b[0])) {
  if ((await runBatch(timeout, batch)) !== 0) failed = 1;
}
process.exit(failed);
