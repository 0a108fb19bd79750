import { createMemoryPushQueue } from '@hubbub/push';
import { describePushQueue } from '@hubbub/push/conformance';

// The reference queue (not durable); scheduled jobs follow the manual clock each test hands it.
describePushQueue({ name: 'memory', time: 'manual', create: (clock) => createMemoryPushQueue({ clock }) });
