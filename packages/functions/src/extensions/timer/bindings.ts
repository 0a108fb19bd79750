/**
 * The `timerTrigger` binding type: a schedule (six-field NCRONTAB or a TimeSpan), checked at load.
 * @module
 */
import { type BindingType, requireString } from '../../bindings.ts';
import { parseSchedule } from './ncrontab.ts';

export const timerTriggerBinding: BindingType = {
  type: 'timerTrigger',
  direction: 'trigger',
  validate(binding, scope) {
    parseSchedule(requireString(binding, scope, 'schedule'));
  },
};
