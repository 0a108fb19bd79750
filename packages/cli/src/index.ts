export { parseCommandArgs, UsageError } from './args.ts';
export type { Command } from './command.ts';
export { parseSystemFlags, runUntilSignal, type SystemFlags, systemFlagsHelp } from './run-system.ts';
export { type FunctionApp, type RunningSystem, type SystemOptions, startSystem } from './system.ts';
