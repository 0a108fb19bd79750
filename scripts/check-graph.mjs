#!/usr/bin/env node
// The package graph points one way: kernel <- hub-protocol <- hub; kernel <- bus <- bus-*;
// system (the composition root) over the parts; the CLI and the apps on system, and nothing on the
// CLI. Fails on an edge not allowed below, an unknown workspace package, or a cycle.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
/** package -> the @hubbub packages it may depend on. Apps and bench may depend on anything. */
const allowed = {
  kernel: [],
  'hub-protocol': ['kernel'],
  hub: ['kernel', 'hub-protocol'],
  'hub-redis': ['kernel', 'hub-protocol', 'hub'],
  bus: ['kernel'],
  'bus-nats': ['kernel', 'bus'],
  'bus-amqp': ['kernel', 'bus', 'tls', 'test-kit'],
  functions: ['kernel'],
  store: ['kernel'],
  cache: ['kernel'],
  tls: ['kernel'],
  push: ['kernel', 'tls'],
  'test-kit': [],
  system: [
    'kernel',
    'hub-protocol',
    'hub',
    'hub-redis',
    'bus',
    'bus-amqp',
    'functions',
    'cache',
    'store',
    'push',
    'tls',
    'test-kit',
  ],
  cli: ['kernel', 'hub-protocol', 'hub', 'bus', 'functions', 'system', 'test-kit'],
};
/** Nothing imports the CLI: it is commands only; apps and benchmarks sit on @hubbub/system. */
const nobodyDependsOn = ['cli'];

const problems = [];
const hubbubDeps = (pkg) =>
  Object.keys({ ...pkg.dependencies, ...pkg.devDependencies, ...pkg.peerDependencies })
    .filter((d) => d.startsWith('@hubbub/'))
    .map((d) => d.slice('@hubbub/'.length));
const graph = new Map();
for (const dir of readdirSync(join(root, 'packages'))) {
  const file = join(root, 'packages', dir, 'package.json');
  if (!existsSync(file)) continue;
  const pkg = JSON.parse(readFileSync(file, 'utf8'));
  const deps = hubbubDeps(pkg);
  graph.set(dir, deps);
  if (pkg.name !== `@hubbub/${dir}`) problems.push(`packages/${dir}: name must be @hubbub/${dir}, is ${pkg.name}`);
  const rule = allowed[dir];
  if (rule === undefined) {
    problems.push(`packages/${dir}: not in scripts/check-graph.mjs; add its allowed dependencies`);
    continue;
  }
  for (const d of deps) {
    if (!rule.includes('*') && !rule.includes(d)) problems.push(`packages/${dir} must not depend on @hubbub/${d}`);
  }
}

for (const dir of ['apps', 'examples']) {
  for (const name of existsSync(join(root, dir)) ? readdirSync(join(root, dir)) : []) {
    const file = join(root, dir, name, 'package.json');
    if (existsSync(file)) graph.set(`${dir}/${name}`, hubbubDeps(JSON.parse(readFileSync(file, 'utf8'))));
  }
}
graph.set('bench', hubbubDeps(JSON.parse(readFileSync(join(root, 'bench', 'package.json'), 'utf8'))));
for (const [node, deps] of graph) {
  for (const d of deps) if (nobodyDependsOn.includes(d)) problems.push(`${node} must not depend on @hubbub/${d}`);
}

const state = new Map();
const visit = (node, path) => {
  if (state.get(node) === 'done') return;
  if (state.get(node) === 'open') {
    problems.push(`dependency cycle: ${[...path, node].join(' -> ')}`);
    return;
  }
  state.set(node, 'open');
  for (const d of graph.get(node) ?? []) visit(d, [...path, node]);
  state.set(node, 'done');
};
for (const node of graph.keys()) visit(node, []);

if (problems.length > 0) {
  console.error(`package graph check failed:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`package graph ok (${graph.size} packages)`);
