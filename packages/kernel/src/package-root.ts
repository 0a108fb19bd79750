/**
 * The directory of the package a module belongs to, found by walking up from the module's own file
 * to the nearest package.json. Files a package ships beside its code (pages, a function app, a
 * loader hook) are found from there, so the same line works from `src/` under tsx and from the
 * compiled `dist/src/`.
 * @module
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidOptionError } from './errors.ts';

/** `packageRoot(import.meta.url)`: the directory holding the calling module's package.json. */
export function packageRoot(moduleUrl: string): string {
  let dir = dirname(fileURLToPath(moduleUrl));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new InvalidOptionError('moduleUrl', `no package.json above ${fileURLToPath(moduleUrl)}`);
    dir = parent;
  }
}
