/**
 * The conformance suite every {@link DocumentDriver} runs: Cosmos semantics end to end through the
 * public client. Run it from a five-line file:
 *
 * ```ts
 * import { describeDocumentDriver } from '@hubbub/store/driver';
 * import { MemoryDriver } from '@hubbub/store/driver';
 * describeDocumentDriver({ name: 'memory', create: () => new MemoryDriver(), reopen: (d) => d });
 * ```
 * @module
 */
import { describe } from 'node:test';
import type { DocumentDriver } from '../driver.ts';
import { type DocumentDriverSuiteOptions, makeTest } from './context.ts';
import { crudTests } from './crud.ts';
import { feedTests } from './feed.ts';
import { patchBatchTests } from './patch-batch.ts';
import { queryTests } from './query.ts';
import { ttlTests } from './ttl.ts';

export type { DocumentDriverSuiteOptions } from './context.ts';

export function describeDocumentDriver<D extends DocumentDriver>(options: DocumentDriverSuiteOptions<D>): void {
  const test = makeTest(options);
  describe(`DocumentDriver conformance: ${options.name}`, () => {
    crudTests(test);
    patchBatchTests(test);
    queryTests(test);
    ttlTests(test);
    feedTests(test);
  });
}
