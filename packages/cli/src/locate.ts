/**
 * How a client command finds the running system: a flag first (`--url`, `--key`,
 * `--connection-string`), then the environment (`HUBBUB_BUS_URL`, `HUBBUB_BUS_KEY`, …), then the
 * `running.json` a running Hubbub writes into its data directory (`--data`, `$HUBBUB_DATA_DIR`,
 * default `.data`). Each answer says where it came from, so an error can name what to change.
 * @module
 */
import { type RunningInfo, readRunningFile, runningFilePath } from '@hubbub/system';

/** A value and where it came from (`--url`, `$HUBBUB_BUS_URL`, `.data/running.json`, …). */
export interface Located<T> {
  readonly value: T;
  readonly from: string;
}

const env = (name: string): string | undefined => {
  const value = process.env[name];
  return value === undefined || value.trim() === '' ? undefined : value;
};

/** `--data`, then `$HUBBUB_DATA_DIR`, then `.data`. */
export const dataDirFrom = (flag: string | undefined): string => flag ?? env('HUBBUB_DATA_DIR') ?? '.data';

/** The running system of the data directory, with the path its file has; `undefined` if none runs. */
export function runningSystem(dataDir: string): Located<RunningInfo> | undefined {
  const info = readRunningFile(dataDir);
  return info === undefined ? undefined : { value: info, from: runningFilePath(dataDir) };
}

/**
 * The first of: the flag, the environment variables (in order), what the running system says.
 * `undefined` when none has it.
 */
export function locate<T>(
  flag: { name: string; value: T | undefined },
  variables: readonly string[],
  parse: (text: string) => T,
  running: Located<RunningInfo> | undefined,
  fromRunning: (info: RunningInfo) => T,
): Located<T> | undefined {
  if (flag.value !== undefined) return { value: flag.value, from: `--${flag.name}` };
  for (const name of variables) {
    const text = env(name);
    if (text !== undefined) return { value: parse(text), from: `$${name}` };
  }
  return running === undefined ? undefined : { value: fromRunning(running.value), from: running.from };
}

/** The sentence an unreachable-server error ends with: how to point the command at the server. */
export function whereToPoint(flag: string, variable: string, dataDir: string): string {
  return (
    `Is Hubbub running? Start it (npm start, or hubbub start), or point at it with ${flag} or $${variable}; ` +
    `a running Hubbub is found through ${runningFilePath(dataDir)} (--data DIR or $HUBBUB_DATA_DIR if its data is elsewhere).`
  );
}
