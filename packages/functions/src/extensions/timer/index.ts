/**
 * The timer extension: the `timerTrigger`, driven by the host's clock.
 * @module
 */
import type { Extension } from '../../extension.ts';
import { timerTrigger } from './trigger.ts';

export function timerExtension(): Extension {
  return { name: 'timer', setup: (context) => ({ trigger: timerTrigger(context) }) };
}
