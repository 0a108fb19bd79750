/**
 * Loads a function app the way the Azure Functions Node worker does: package.json `main` (a file or
 * glob, or a list of them), each matching file required (CommonJS) or imported (ESM), with the
 * `@azure/functions-core` module in place so every `app.*` call registers with this host.
 * @module
 */
import { access, readFile } from 'node:fs/promises';
import { createRequire, register } from 'node:module';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '@hubbub/kernel';
import { glob, isDynamicPattern } from 'tinyglobby';
import { markHttpStream, Registry, withRegistry } from './core-module.ts';
import { FunctionsError } from './errors.ts';

const requireHere = createRequire(import.meta.url);
let generation = 0;
let esmHooks = false;

/** Makes re-imports of an ESM app reach its own imported modules too (see esm-reload-hooks.mjs). */
function installEsmReloadHooks(): void {
  if (esmHooks) return;
  esmHooks = true;
  // A plain .mjs beside the sources (tsc does not emit it): found from the package root, src or dist alike.
  register(pathToFileURL(join(packageRoot(import.meta.url), 'src/esm-reload-hooks.mjs')));
}

export interface PackageJson {
  main?: string | string[];
  type?: string;
}

export async function readJsonFile<T>(path: string, what: string, optional: boolean): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (optional && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FunctionsError('FUNCTIONS_APP_LOAD_FAILED', `Cannot read ${what} at ${path}.`, {
      cause: err,
      detail: { path },
    });
  }
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) as T;
  } catch (err) {
    throw new FunctionsError('FUNCTIONS_APP_LOAD_FAILED', `${what} at ${path} is not valid JSON.`, {
      cause: err,
      detail: { path },
    });
  }
}

/** The entry files `main` names, relative to `appDir`, in a stable order. */
export async function resolveEntryPoints(appDir: string, main: unknown): Promise<string[]> {
  const patterns = typeof main === 'string' ? [main] : Array.isArray(main) ? main : undefined;
  if (patterns === undefined || patterns.length === 0 || patterns.some((p) => typeof p !== 'string' || p === '')) {
    throw new FunctionsError(
      'FUNCTIONS_APP_LOAD_FAILED',
      `package.json in ${appDir} needs "main": a file or glob (or a list of them) naming the files that register functions.`,
      { detail: { appDir, field: 'main' } },
    );
  }
  const files: string[] = [];
  for (const pattern of patterns as string[]) {
    const matched = isDynamicPattern(pattern)
      ? (await glob(pattern, { cwd: appDir, ignore: ['**/node_modules/**'] })).sort()
      : [pattern];
    const existing: string[] = [];
    for (const file of matched) {
      if (
        await access(join(appDir, file)).then(
          () => true,
          () => false,
        )
      )
        existing.push(file);
    }
    if (existing.length === 0) {
      throw new FunctionsError(
        'FUNCTIONS_APP_LOAD_FAILED',
        isDynamicPattern(pattern)
          ? `package.json "main" pattern "${pattern}" matches no files in ${appDir}.`
          : `package.json "main" file "${pattern}" does not exist in ${appDir}.`,
        { detail: { appDir, main: pattern } },
      );
    }
    for (const file of existing) if (!files.includes(file)) files.push(file);
  }
  return files;
}

function isEsm(file: string, pkg: PackageJson): boolean {
  if (file.endsWith('.mjs')) return true;
  if (file.endsWith('.cjs')) return false;
  return pkg.type === 'module';
}

/** Forgets CommonJS modules of the app (not its node_modules) so a second load registers again. */
function forgetAppModules(appDir: string): void {
  const root = appDir.endsWith(sep) ? appDir : appDir + sep;
  for (const key of Object.keys(requireHere.cache)) {
    if (key.startsWith(root) && !key.slice(root.length).split(sep).includes('node_modules')) {
      delete requireHere.cache[key];
    }
  }
}

/**
 * Copies of the library an app switched to HTTP streaming: its setup is locked for good once the
 * host starts the library's proxy, so the next load in this process requires a fresh copy (CommonJS
 * apps; an ESM app keeps the copy it imported first).
 */
const lockedLibraries = new Set<string>();

function forgetLockedLibraries(): void {
  for (const path of lockedLibraries) delete requireHere.cache[path];
  lockedLibraries.clear();
}

function libraryPath(appDir: string): string | undefined {
  try {
    return requireHere.resolve('@azure/functions', { paths: [appDir] });
  } catch {
    return undefined;
  }
}

export interface LoadedApp {
  readonly registry: Registry;
  readonly entryPoints: string[];
  readonly packageJson: PackageJson;
}

/** Loads the app in `appDir`, collecting its registrations into a fresh {@link Registry}. */
export async function loadApp(appDir: string, log: Registry['log']): Promise<LoadedApp> {
  const dir = resolve(appDir);
  const packageJson = (await readJsonFile<PackageJson>(join(dir, 'package.json'), 'package.json', false)) ?? {};
  const entryPoints = await resolveEntryPoints(dir, packageJson.main);
  const registry = new Registry(log);
  const load = ++generation;
  await withRegistry(registry, async () => {
    forgetAppModules(dir);
    forgetLockedLibraries();
    for (const file of entryPoints) {
      const path = isAbsolute(file) ? file : join(dir, file);
      try {
        if (isEsm(path, packageJson)) {
          installEsmReloadHooks();
          // A query makes a fresh module instance, so a second host loading the same app registers too.
          await import(`${pathToFileURL(path).href}?hubbub-load=${load}`);
        } else {
          requireHere(path);
        }
      } catch (err) {
        throw new FunctionsError(
          'FUNCTIONS_APP_LOAD_FAILED',
          `Unable to load entry point "${relative(dir, path)}": ${(err as Error)?.message ?? String(err)}`,
          { cause: err, detail: { appDir: dir, file: relative(dir, path) } },
        );
      }
    }
  });
  markHttpStream(registry);
  const library = registry.httpStream ? libraryPath(dir) : undefined;
  if (library !== undefined) lockedLibraries.add(library);
  return { registry, entryPoints, packageJson };
}
