/**
 * One SDK client process of bench/bus-amqp, started by run.ts (N of them against one server): its
 * own queue, `senders` senders sending arrays of `batch`, and one receiver — `subscribe` with
 * auto-complete, or `receiveMessages` with concurrent completes. `prepare` opens the links with one
 * warm-up message; `run` sends and receives `count` messages and reports each one's send → receipt
 * latency, the first send and last receipt in wall-clock ms, and the CPU it used.
 * @module
 */
import { ServiceBusClient, type ServiceBusReceivedMessage } from '@azure/service-bus';
import { serveIpc } from '../lib/ipc.ts';

export interface ClientOptions {
  connectionString: string;
  queue: string;
  count: number;
  batch: number;
  senders: number;
  concurrency: number;
  receiver: 'stream' | 'batch';
  bodyBytes: number;
}

export interface ClientReport {
  received: number;
  latencies: number[];
  /** Wall-clock ms (performance.timeOrigin based) of the first send and the last receipt. */
  startedAt: number;
  endedAt: number;
  cpuMs: number;
  errors: string[];
}

export type ClientApi = {
  prepare(options: ClientOptions): Promise<void>;
  run(args: { deadlineMs: number }): Promise<ClientReport>;
  exit(args: null): void;
};

const now = (): number => performance.timeOrigin + performance.now();

let state:
  | {
      o: ClientOptions;
      client: ServiceBusClient;
      onMessage: (m: ServiceBusReceivedMessage) => void;
      errors: string[];
      batchReceive?: (until: () => boolean) => Promise<void>;
    }
  | undefined;

async function prepare(o: ClientOptions): Promise<void> {
  const client = new ServiceBusClient(o.connectionString);
  const receiver = client.createReceiver(o.queue);
  const errors: string[] = [];
  let warmed!: () => void;
  const warm = new Promise<void>((resolve) => {
    warmed = resolve;
  });
  const s: NonNullable<typeof state> = {
    o,
    client,
    errors,
    onMessage: () => warmed(),
  };
  const sender = client.createSender(o.queue);
  if (o.receiver === 'batch') {
    s.batchReceive = async (until) => {
      while (!until()) {
        const got = await receiver.receiveMessages(o.concurrency, { maxWaitTimeInMs: 1000 });
        for (const m of got) s.onMessage(m);
        await Promise.all(got.map((m) => receiver.completeMessage(m)));
      }
    };
    await sender.sendMessages({ body: 'warm-up' });
    const got = await receiver.receiveMessages(1, { maxWaitTimeInMs: 10_000 });
    await Promise.all(got.map((m) => receiver.completeMessage(m)));
  } else {
    receiver.subscribe(
      {
        processMessage: async (m) => s.onMessage(m),
        processError: async (e) => {
          if (errors.length < 5) errors.push(String(e.error));
        },
      },
      { maxConcurrentCalls: o.concurrency, autoCompleteMessages: true },
    );
    await sender.sendMessages({ body: 'warm-up' });
    await warm;
  }
  await sender.close();
  state = s;
}

async function run({ deadlineMs }: { deadlineMs: number }): Promise<ClientReport> {
  if (state === undefined) throw new Error('prepare first');
  const s = state;
  const { o, client } = s;
  const body = 'x'.repeat(o.bodyBytes);
  const latencies: number[] = [];
  let endedAt = 0;
  let allIn!: () => void;
  const done = new Promise<void>((resolve) => {
    allIn = resolve;
  });
  s.onMessage = (m) => {
    const t = m.applicationProperties?.t;
    if (typeof t !== 'number') return;
    endedAt = now();
    latencies.push(endedAt - t);
    if (latencies.length >= o.count) allIn();
  };
  const cpu = process.cpuUsage();
  const startedAt = now();
  const stopAt = performance.now() + deadlineMs;
  const late = () => performance.now() >= stopAt;
  const receiving = s.batchReceive?.(() => latencies.length >= o.count || late());
  const sending = Array.from({ length: o.senders }, async (_, k) => {
    const share = Math.floor(o.count / o.senders) + (k < o.count % o.senders ? 1 : 0);
    const sender = client.createSender(o.queue);
    for (let i = 0; i < share && !late(); i += o.batch) {
      const t = now();
      const n = Math.min(o.batch, share - i);
      await sender.sendMessages(Array.from({ length: n }, () => ({ body, applicationProperties: { t } })));
    }
  });
  const timeout = new Promise<void>((resolve) => setTimeout(resolve, deadlineMs).unref());
  await Promise.race([Promise.all([...sending, receiving ?? done]), timeout]).catch((err: unknown) => {
    s.errors.push(String(err));
  });
  const used = process.cpuUsage(cpu);
  return {
    received: latencies.length,
    latencies,
    startedAt,
    endedAt: endedAt === 0 ? now() : endedAt,
    cpuMs: (used.user + used.system) / 1000,
    errors: s.errors,
  };
}

serveIpc<ClientApi>({
  prepare,
  run,
  exit: () => {
    setImmediate(() => process.exit(0));
  },
});
