/**
 * A small in-memory {@link StorePort} for the cosmosDB extension's tests: containers with a
 * partition-key path, a change log per container, leases as documents of a lease container (one
 * per processor), the queries it was asked, and failures on demand. It evaluates only
 * `SELECT * FROM c [WHERE c.a = @p [AND c.b = @q …]]`; Hubbub's real store runs behind the same port
 * in packages/system/test.
 */
import type {
  StoreChangeBatch,
  StoreChangeOptions,
  StoreDocument,
  StorePort,
  StoreQuery,
  StoreTarget,
  StoreUpsertOptions,
} from '../src/index.ts';
import { codedError } from '../src/testing/index.ts';

interface Container {
  readonly partitionKeyPath: string;
  readonly docs: Map<string, StoreDocument>;
  /** Every write, in order (the change feed). */
  readonly log: StoreDocument[];
}

const keyOf = (t: StoreTarget) => `${t.database}/${t.container}`;

export class MemoryStore implements StorePort {
  readonly containers = new Map<string, Container>();
  readonly queries: { target: StoreTarget; query: StoreQuery; partitionKey?: string }[] = [];
  readonly subscriptions: { target: StoreTarget; options: StoreChangeOptions }[] = [];
  /** Makes the next `n` upserts fail. */
  failUpserts = 0;
  /** Makes the next `n` checkpoints (batch completions) fail. */
  failCheckpoints = 0;
  readonly #wake = new Set<() => void>();

  create(target: StoreTarget, partitionKeyPath = '/id'): void {
    if (!this.containers.has(keyOf(target)))
      this.containers.set(keyOf(target), { partitionKeyPath, docs: new Map(), log: [] });
  }

  #container(target: StoreTarget): Container {
    const found = this.containers.get(keyOf(target));
    if (found === undefined) throw codedError('STORE_NOT_FOUND', `No container ${keyOf(target)}.`);
    return found;
  }

  /** Documents of a container, by id. */
  docs(target: StoreTarget): StoreDocument[] {
    return [...(this.containers.get(keyOf(target))?.docs.values() ?? [])];
  }

  async read(target: StoreTarget, id: string, partitionKey: string | undefined): Promise<StoreDocument | undefined> {
    const c = this.#container(target);
    const doc = c.docs.get(id);
    if (doc === undefined) return undefined;
    return partitionKey === undefined || String(doc[c.partitionKeyPath.slice(1)]) === partitionKey ? doc : undefined;
  }

  async query(target: StoreTarget, query: StoreQuery, options: { partitionKey?: string }): Promise<unknown[]> {
    this.queries.push({ target, query, ...options });
    const c = this.#container(target);
    const m = /^SELECT \* FROM c(?: WHERE (.+))?$/i.exec(query.query.trim());
    if (m === null) throw codedError('STORE_BAD_QUERY', `The test store does not run: ${query.query}`);
    const terms = (m[1] ?? '').split(/ AND /i).filter((t) => t !== '');
    const filters = terms.map((term) => {
      const t = /^c\.(\w+) = (@\w+)$/.exec(term.trim());
      if (t === null) throw codedError('STORE_BAD_QUERY', `The test store does not run: ${term}`);
      const param = query.parameters.find((p) => p.name === t[2]);
      if (param === undefined) throw codedError('STORE_BAD_QUERY', `No parameter ${t[2]}.`);
      return (doc: StoreDocument) => doc[t[1]!] === param.value;
    });
    const pk = c.partitionKeyPath.slice(1);
    return [...c.docs.values()].filter(
      (d) =>
        filters.every((f) => f(d)) && (options.partitionKey === undefined || String(d[pk]) === options.partitionKey),
    );
  }

  async upsert(target: StoreTarget, documents: readonly StoreDocument[], options: StoreUpsertOptions): Promise<void> {
    if (this.failUpserts > 0) {
      this.failUpserts--;
      throw codedError('STORE_UNAVAILABLE', 'The store went away.');
    }
    if (options.createIfNotExists !== undefined) this.create(target, options.createIfNotExists.partitionKeyPath);
    const c = this.#container(target);
    for (const doc of documents) {
      const stored = { ...doc, _etag: String(c.log.length + 1), _ts: Math.floor(Date.now() / 1000) };
      c.docs.set(String(doc.id), stored);
      c.log.push(stored);
    }
    for (const wake of [...this.#wake]) wake();
  }

  changes(target: StoreTarget, options: StoreChangeOptions): AsyncIterable<StoreChangeBatch> {
    this.subscriptions.push({ target, options });
    return this.#changes(target, options);
  }

  async *#changes(target: StoreTarget, options: StoreChangeOptions): AsyncGenerator<StoreChangeBatch> {
    const c = this.#container(target);
    const { leases } = options;
    const leaseStore = leases.port as MemoryStore;
    const leaseTarget = { database: leases.database, container: leases.container };
    if (leases.createIfNotExists) leaseStore.create(leaseTarget);
    const leaseContainer = leaseStore.#container(leaseTarget);
    const lease = leaseContainer.docs.get(options.processorName);
    const start = options.startFrom;
    const since = (time: number) => {
      const at = c.log.findIndex((d) => (d._ts as number) * 1000 >= time);
      return at === -1 ? c.log.length : at;
    };
    let checkpoint =
      typeof lease?.continuation === 'number'
        ? lease.continuation
        : start === 'beginning'
          ? 0
          : start === 'now'
            ? c.log.length
            : since(start.time);
    const { signal } = options;
    while (!signal.aborted) {
      if (checkpoint < c.log.length) {
        const documents = c.log.slice(checkpoint, checkpoint + options.maxItems);
        const next = checkpoint + documents.length;
        // Not completed before the next is asked for: the batch comes again from the checkpoint.
        yield {
          documents,
          complete: async () => {
            if (this.failCheckpoints > 0) {
              this.failCheckpoints--;
              options.onLeaseError?.(codedError('STORE_UNAVAILABLE', 'The lease store went away.'));
              throw codedError('STORE_LEASE_LOST', 'Another subscriber took the range.');
            }
            checkpoint = next;
            leaseContainer.docs.set(options.processorName, { id: options.processorName, continuation: next });
          },
        };
        continue;
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#wake.delete(done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        this.#wake.add(done);
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }
}
