import { createMemoryEngine } from '@hubbub/bus/engine';
import { describeBusEngine } from '@hubbub/bus/engine/conformance';

// The memory engine keeps its state across close/open of the same instance, so it can "restart".
describeBusEngine({ name: 'memory', create: () => createMemoryEngine(), reopen: (engine) => engine });
