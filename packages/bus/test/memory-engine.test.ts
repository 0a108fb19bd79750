import { describeBusEngine } from '../src/engine/conformance.ts';
import { MemoryEngine } from '../src/engine/memory/engine.ts';

// The memory engine keeps its state across close/open of the same instance, so it can "restart".
describeBusEngine({ name: 'memory', create: () => new MemoryEngine(), reopen: (engine) => engine });
