#!/usr/bin/env node
// Every error code the source defines or throws (a quoted KERNEL_/HUB_/BUS_/FUNCTIONS_/CLI_/
// SYSTEM_/DELIVERY_… string in a non-test source file) is listed in docs/errors.md, and docs/errors.md
// lists no code the source does not have.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const prefixes = ['KERNEL', 'HUB', 'BUS', 'FUNCTIONS', 'CLI', 'DELIVERY', 'STORE', 'PUSH', 'CACHE', 'SYSTEM', 'TLS'];
const quoted = new RegExp(`['"\`]((?:${prefixes.join('|')})_[A-Z0-9_]+)['"\`]`, 'g');
const skip = new Set(['node_modules', 'dist', 'test', 'fixtures', 'bench', 'web']);

function sources(dir, out = []) {
  let names;
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    if (skip.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (/\.(ts|js|mjs|cjs)$/.test(name) && !/\.test\.|\.bench\./.test(name)) out.push(path);
  }
  return out;
}

const defined = new Map();
for (const base of ['packages', 'apps', 'examples']) {
  for (const file of sources(join(root, base))) {
    const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|^\s*\/\/.*$/gm, '');
    for (const match of text.matchAll(quoted)) defined.set(match[1], relative(root, file));
  }
}

const doc = readFileSync(join(root, 'docs/errors.md'), 'utf8');
const documented = new Set([...doc.matchAll(/`((?:[A-Z]+)_[A-Z0-9_]+)`/g)].map((m) => m[1]));
const missing = [...defined].filter(([code]) => !documented.has(code));
const unknown = [...documented].filter((code) => !defined.has(code));

if (missing.length > 0 || unknown.length > 0) {
  const lines = [
    ...missing.map(([code, file]) => `${code} (in ${file}) is not in docs/errors.md`),
    ...unknown.map((code) => `${code} is in docs/errors.md but no source file has it`),
  ];
  console.error(`error catalogue check failed:\n  ${lines.join('\n  ')}`);
  process.exit(1);
}
console.log(`error catalogue ok (${defined.size} codes)`);
