import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { logsAt } from '@hubbub/kernel';
import { type FromWorker, workerLogger } from './invocation-worker.ts';

describe('workerLogger', () => {
  it('posts every line to a host that logs, and says every level is on', () => {
    const posted: FromWorker[] = [];
    const logger = workerLogger(true, (m) => posted.push(m));
    assert.equal(logsAt(logger, 'debug'), true);
    logger.child({}).debug({ a: 1 }, 'one');
    logger.error({}, 'two');
    assert.deepEqual(posted, [
      { t: 'log', level: 'debug', fields: { a: 1 }, message: 'one' },
      { t: 'log', level: 'error', fields: {}, message: 'two' },
    ]);
  });

  it('says no level is on for a host that does not log, so invocations build no fields for its lines', () => {
    const posted: FromWorker[] = [];
    const logger = workerLogger(false, (m) => posted.push(m));
    for (const level of ['debug', 'info', 'warn', 'error'] as const) assert.equal(logsAt(logger, level), false);
    logger.info({}, 'dropped');
    assert.deepEqual(posted, []);
  });
});
