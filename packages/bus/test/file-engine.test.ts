import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeBusEngine } from '../src/engine/conformance.ts';
import { FileEngine } from '../src/engine/file/engine.ts';

const root = mkdtempSync(join(tmpdir(), 'hubbub-bus-conformance-'));
let n = 0;
describeBusEngine({
  name: 'file',
  create: () => new FileEngine({ dir: join(root, String(++n)) }),
  reopen: (closed) => new FileEngine({ dir: closed.dir }),
});
