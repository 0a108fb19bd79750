import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  type RunningInfo,
  readRunningFile,
  removeRunningFile,
  runningFilePath,
  writeRunningFile,
} from './running-file.ts';

const dir = (): string => mkdtempSync(join(tmpdir(), 'hubbub-running-'));
const info = (pid = process.pid, url = 'http://127.0.0.1:18300'): RunningInfo => ({
  pid,
  startedAt: new Date(0).toISOString(),
  url,
  bus: { url: `${url}/bus`, key: { name: 'RootManageSharedAccessKey', key: 'bus-key-0123456789' } },
  store: { url: `${url}/store`, key: 'c3RvcmUta2V5LTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEy' },
  signalR: { connectionString: `Endpoint=${url};AccessKey=k;Version=1.0;` },
});

describe('running.json', () => {
  it('is written readable by its owner only, read back, and leaves no temporary file', () => {
    const d = dir();
    writeRunningFile(d, info());
    assert.equal(statSync(runningFilePath(d)).mode & 0o777, 0o600);
    assert.deepEqual(readRunningFile(d), info());
    assert.deepEqual(readdirSync(d), ['running.json']);
  });

  it('is absent without a file, and ignored when its process is gone', () => {
    const d = dir();
    assert.equal(readRunningFile(d), undefined);
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeRunningFile(d, info(Number(gone.stdout)));
    assert.equal(readRunningFile(d), undefined);
  });

  it('is removed only by the system that wrote it', () => {
    const d = dir();
    writeRunningFile(d, info(process.pid, 'http://127.0.0.1:1'));
    removeRunningFile(d, 'http://127.0.0.1:2');
    assert.notEqual(readRunningFile(d), undefined);
    removeRunningFile(d, 'http://127.0.0.1:1');
    assert.equal(readRunningFile(d), undefined);
    removeRunningFile(d, 'http://127.0.0.1:1'); // gone already: nothing to do
  });

  it('refuses a file that is not one of ours with SYSTEM_RUNNING_FILE_INVALID', () => {
    for (const text of ['not json', '[]', '{"pid":1}', JSON.stringify({ ...info(), pid: -1 })]) {
      const d = dir();
      writeFileSync(runningFilePath(d), text);
      assert.throws(() => readRunningFile(d), { code: 'SYSTEM_RUNNING_FILE_INVALID' }, text);
    }
  });
});
