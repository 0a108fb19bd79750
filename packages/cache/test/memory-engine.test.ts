import { describeCacheEngine } from '@hubbub/cache/engine';
import { createMemoryEngine } from '../src/engines/memory/engine.ts';

// The reference engine: expiry follows the manual clock each test hands it.
describeCacheEngine({ name: 'memory', time: 'manual', create: (clock) => createMemoryEngine({ clock }) });
