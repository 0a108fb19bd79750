import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createConsoleLogger, logsAt, silentLogger } from './logger.ts';

/** The same throw site each call: one stack trace, whatever the message. */
const poison = (id: number): Error => Object.assign(new Error(`bad order ${id}`), { code: 'E_POISON' });

describe('createConsoleLogger formats', () => {
  it('pretty: one line per entry with level, scope and fields; the error below it', () => {
    const lines: string[] = [];
    const log = createConsoleLogger({ format: 'pretty', write: (l) => lines.push(l) }).child({ part: 'functions' });
    log.info({ function: 'notify', durationMs: 12, note: 'two words' }, 'Executed');
    log.error({ err: poison(1) }, 'failed');
    assert.match(
      lines[0]!,
      /^\d\d:\d\d:\d\d\.\d{3} INFO {2}\[functions\] Executed {2}function=notify durationMs=12 note="two words"\n$/,
    );
    assert.match(lines[1]!, /ERROR \[functions\] failed\n {2}Error: bad order 1 \[E_POISON\]\n {4}at /);
    assert.equal(lines.join('').includes('\x1b['), false, 'no colour unless asked');
    log.warn(
      { entity: 'q/$DeadLetterQueue', reason: 'Poison', sequenceNumber: 2n, extra: 1 },
      'Dead-lettered 2 on q/$DeadLetterQueue: Poison',
    );
    assert.match(
      lines[2]!,
      /Dead-lettered 2 on q\/\$DeadLetterQueue: Poison {2}extra=1\n$/,
      'what the message says is not repeated',
    );
  });

  it('writes bigint fields (sequence numbers) as strings instead of throwing', () => {
    const lines: string[] = [];
    createConsoleLogger({ write: (l) => lines.push(l) }).warn({ sequenceNumber: 12n, nested: { n: 3n } }, 'x');
    assert.deepEqual(JSON.parse(lines[0]!).nested, { n: '3' });
    assert.equal(JSON.parse(lines[0]!).sequenceNumber, '12');
    createConsoleLogger({ format: 'pretty', write: (l) => lines.push(l) }).warn({ nested: { n: 3n } }, 'x');
    assert.match(lines[1]!, /nested=\{"n":"3"\}/);
  });

  it('pretty with color: ANSI codes around the level', () => {
    const lines: string[] = [];
    createConsoleLogger({ format: 'pretty', color: true, write: (l) => lines.push(l) }).warn({}, 'careful');
    assert.match(lines[0]!, /\x1b\[33mWARN \x1b\[0m careful/);
  });

  it('writes a stack trace in full once; the same trace again is one line with its count (json and pretty)', () => {
    const json: string[] = [];
    const log = createConsoleLogger({ write: (l) => json.push(l) });
    for (let i = 0; i < 10; i++) log.child({ i }).error({ err: poison(i) }, 'delivery failed');
    const errs = json.map((l) => JSON.parse(l).err);
    assert.match(errs[0].stack, /at poison/);
    for (const [i, err] of errs.slice(1).entries()) {
      assert.equal(err.stack, undefined);
      assert.equal(err.repeated, i + 2);
      assert.equal(err.code, 'E_POISON');
    }
    const pretty: string[] = [];
    const p = createConsoleLogger({ format: 'pretty', write: (l) => pretty.push(l) });
    for (let i = 0; i < 10; i++) p.error({ err: poison(i) }, 'delivery failed');
    const text = pretty.join('');
    assert.equal(text.match(/at poison/g)?.length, 1, 'one full trace');
    assert.match(text, /same stack trace as before, 10 times now/);
    p.error({ err: new TypeError('another place') }, 'other');
    assert.match(pretty.at(-1)!, /TypeError: another place\n {4}at /, 'a different trace is written in full');
  });
});

describe('logsAt', () => {
  it('says which levels a logger writes, children included; a logger that cannot say is assumed to write', () => {
    const lines: string[] = [];
    const info = createConsoleLogger({ write: (l) => lines.push(l) }).child({ part: 'http' });
    assert.deepEqual(
      (['debug', 'info', 'warn', 'error'] as const).map((level) => logsAt(info, level)),
      [false, true, true, true],
    );
    assert.equal(logsAt(createConsoleLogger({ level: 'debug', write: () => {} }), 'debug'), true);
    assert.equal(logsAt(createConsoleLogger({ level: 'error', write: () => {} }), 'warn'), false);
    assert.equal(logsAt(silentLogger, 'error'), false);
    const { isLevelEnabled: _, ...unsure } = silentLogger;
    assert.equal(logsAt(unsure, 'debug'), true);
    info.debug({}, 'not written');
    assert.deepEqual(lines, []);
  });
});
