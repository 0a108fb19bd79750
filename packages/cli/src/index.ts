export { parseCommandArgs, UsageError } from './args.ts';
export type { Command } from './command.ts';
