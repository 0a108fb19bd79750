import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileEngine } from '@hubbub/bus/engine';
import { describeBusEngine } from '@hubbub/bus/engine/conformance';

const root = mkdtempSync(join(tmpdir(), 'hubbub-bus-conformance-'));
let n = 0;
describeBusEngine({
  name: 'file',
  create: () => createFileEngine({ dir: join(root, String(++n)) }),
  reopen: (closed) => createFileEngine({ dir: closed.dir }),
});
