import { after, before, it } from 'node:test';
import { describeBroker } from '../src/broker/conformance.ts';
import { createNatsBroker } from '../src/nats/index.ts';
import { type NatsCluster, natsUnavailable, startNats } from '../src/nats/testing.ts';

const unavailable = natsUnavailable();
let nats: NatsCluster | undefined;
let n = 0;

if (unavailable !== undefined) {
  it('Broker conformance: nats', { skip: unavailable }, () => {});
} else {
  before(async () => {
    nats = await startNats(1);
  });
  after(() => nats?.stop());
  describeBroker({
    name: 'nats',
    create: ({ clock, ids }) => createNatsBroker({ url: nats!.url, namespace: `t${++n}`, clock, ids }),
    reopen: (closed, { clock, ids }) => createNatsBroker({ url: nats!.url, namespace: closed.namespace, clock, ids }),
    skip: {
      'duplicate detection drops a messageId seen within the window':
        "JetStream's duplicate window runs on the server's clock, which the suite's manual clock cannot advance",
    },
  });
}
