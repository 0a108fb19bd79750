import { describeDocumentDriver, MemoryDriver } from '../src/driver-kit.ts';

// The memory driver keeps its state across close/open of the same instance, so it can "restart".
describeDocumentDriver({ name: 'memory', create: () => new MemoryDriver(), reopen: (driver) => driver });
