/**
 * The timer trigger: a six-field NCRONTAB (or TimeSpan) schedule driven by the injected Clock,
 * `runOnStartup`, and `isPastDue` when an occurrence runs late (the host was busy or the previous
 * run overlapped it). The function receives Azure's timer shape, which the library camel-cases:
 * `{ isPastDue, schedule: { adjustForDST }, scheduleStatus: { last, next, lastUpdated } }`.
 * @module
 */
import type { Clock, TimerHandle } from '@hubbub/kernel';
import type { FunctionEntry } from '../../bindings.ts';
import { invocationError } from '../../errors.ts';
import type { ExtensionContext, Trigger } from '../../extension.ts';
import { toTypedData } from '../../typed-data.ts';
import { timerTriggerBinding } from './bindings.ts';
import { parseSchedule, type Schedule } from './ncrontab.ts';

/** How late (ms) an occurrence may start before it counts as past due. */
export const PAST_DUE_TOLERANCE_MS = 1_000;

export function timerTrigger(context: ExtensionContext): Trigger {
  const { clock, ids, events, logger, signal } = context;
  return {
    binding: timerTriggerBinding,
    start(functions, invoke) {
      const runners = functions.map((entry) =>
        startTimer(entry, clock, async (tick) => {
          const invocationId = ids.uuid();
          try {
            await invoke(entry, {
              invocationId,
              triggerData: toTypedData(timerInput(tick, clock.now())),
              triggerMetadata: {},
              data: { invocationId: '', expressions: {} },
              signal,
            });
          } catch (err) {
            const error = invocationError(err, entry.name, invocationId);
            events.emit('invocation:failed', error, { function: entry.name, trigger: 'timerTrigger', invocationId });
            logger.error({ err, function: entry.name, invocationId }, 'Timer function failed.');
          }
        }),
      );
      return {
        async close() {
          for (const runner of runners) runner.stop();
        },
        nextRun: (name) => runners.find((r) => r.entry.name === name)?.nextAt,
      };
    },
  };
}

export interface TimerTick {
  readonly isPastDue: boolean;
  readonly last: number | undefined;
  readonly next: number;
}

export interface TimerRunner {
  readonly entry: FunctionEntry;
  readonly schedule: Schedule;
  /** The next occurrence, or undefined once stopped. */
  readonly nextAt: number | undefined;
  stop(): void;
}

/**
 * Starts one function's schedule. `fire` runs an invocation and resolves when it finished (it must
 * not reject); the next occurrence is armed after that, so runs of one timer never overlap.
 */
export function startTimer(entry: FunctionEntry, clock: Clock, fire: (tick: TimerTick) => Promise<void>): TimerRunner {
  const schedule = parseSchedule(String(entry.trigger.info.schedule));
  let handle: TimerHandle | undefined;
  let stopped = false;
  let last: number | undefined;
  let nextAt: number | undefined;

  const arm = (from: number) => {
    if (stopped) return;
    const at = schedule.next(from);
    nextAt = at;
    if (at === undefined) return;
    handle = clock.setTimeout(() => void run(at), Math.max(0, at - clock.now()));
  };

  /** `catchUp` runs fire a missed occurrence; they never chain into further catch-ups. */
  const run = async (scheduledAt: number | undefined, catchUp = false) => {
    handle = undefined;
    if (stopped) return;
    const started = clock.now();
    const isPastDue = catchUp || (scheduledAt !== undefined && started - scheduledAt > PAST_DUE_TOLERANCE_MS);
    const next = schedule.next(Math.max(started, scheduledAt ?? started)) ?? started;
    await fire({ isPastDue, last, next });
    last = started;
    if (stopped) return;
    const missed = scheduledAt === undefined || catchUp ? undefined : schedule.next(scheduledAt);
    if (missed !== undefined && missed <= clock.now()) {
      // Occurrences that passed while this run was busy fire once, now, as past due.
      nextAt = clock.now();
      setImmediate(() => void run(missed, true));
    } else arm(clock.now());
  };

  if (entry.trigger.info.runOnStartup === true) {
    void run(undefined);
  } else arm(clock.now());

  return {
    entry,
    schedule,
    get nextAt() {
      return stopped ? undefined : nextAt;
    },
    stop() {
      stopped = true;
      handle?.cancel();
    },
  };
}

/** The timer input as the Functions host sends it (PascalCase; the library camel-cases it). */
export function timerInput(tick: TimerTick, now: number): Record<string, unknown> {
  return {
    Schedule: { AdjustForDST: true },
    ScheduleStatus: {
      Last: new Date(tick.last ?? 0).toISOString(),
      Next: new Date(tick.next).toISOString(),
      LastUpdated: new Date(now).toISOString(),
    },
    IsPastDue: tick.isPastDue,
  };
}
