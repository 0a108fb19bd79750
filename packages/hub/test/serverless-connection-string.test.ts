/** Azure SignalR connection strings: parsing, validation with field-naming errors, and formatting. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHubbubError } from '@hubbub/kernel';
import { createSignalRService, formatConnectionString, parseConnectionString } from '../src/index.ts';

describe('parseConnectionString', () => {
  const valid: Array<[string, { endpoint: string; clientEndpoint: string; accessKey: string; version: string }]> = [
    [
      'Endpoint=http://localhost:7071;AccessKey=abc;Version=1.0;',
      { endpoint: 'http://localhost:7071', clientEndpoint: 'http://localhost:7071', accessKey: 'abc', version: '1.0' },
    ],
    [
      // The emulator's form: Port= separately, no trailing semicolon, keys in any case.
      'endpoint=http://localhost;port=8888;accesskey=ABCDEFGH/+=;version=1.0',
      {
        endpoint: 'http://localhost:8888',
        clientEndpoint: 'http://localhost:8888',
        accessKey: 'ABCDEFGH/+=',
        version: '1.0',
      },
    ],
    [
      'Endpoint=https://x.service.signalr.net/;AccessKey=k=;Version=1.1;ClientEndpoint=https://public.example.com/',
      {
        endpoint: 'https://x.service.signalr.net',
        clientEndpoint: 'https://public.example.com',
        accessKey: 'k=',
        version: '1.1',
      },
    ],
    [
      ' Endpoint = http://127.0.0.1:1 ; AccessKey = key ; AuthType=AccessKey; ServerEndpoint=http://ignored ;',
      { endpoint: 'http://127.0.0.1:1', clientEndpoint: 'http://127.0.0.1:1', accessKey: 'key', version: '1.0' },
    ],
  ];
  for (const [text, expected] of valid) {
    it(`parses ${JSON.stringify(text)}`, () => {
      assert.deepEqual({ ...parseConnectionString(text) }, expected);
    });
  }

  const invalid: Array<[string, string, string | undefined]> = [
    ['', 'empty', undefined],
    ['AccessKey=abc;Version=1.0', 'no Endpoint', 'Endpoint'],
    ['Endpoint=http://h;Version=1.0', 'no AccessKey', 'AccessKey'],
    ['Endpoint=http://h;AccessKey=;Version=1.0', 'empty AccessKey', 'AccessKey'],
    ['Endpoint=ftp://h;AccessKey=k', 'a non-http endpoint', 'Endpoint'],
    ['Endpoint=not a url;AccessKey=k', 'an endpoint that is not a URL', 'Endpoint'],
    ['Endpoint=http://h?x=1;AccessKey=k', 'an endpoint with a query', 'Endpoint'],
    ['Endpoint=http://h;AccessKey=k;Version=2.0', 'an unsupported version', 'Version'],
    ['Endpoint=http://h;AccessKey=k;Port=99999', 'a port out of range', 'Port'],
    ['Endpoint=http://h;AccessKey=k;Port=abc', 'a port that is not a number', 'Port'],
    ['Endpoint=http://h;AccessKey=k;AuthType=azure.msi', 'managed identity auth', 'AuthType'],
    ['Endpoint=http://h;AccessKey=k;ClientEndpoint=nope', 'a bad ClientEndpoint', 'ClientEndpoint'],
    ['Endpoint=http://h;Endpoint=http://g;AccessKey=k', 'a duplicate key', 'endpoint'],
    ['Endpoint=http://h;AccessKey=k;garbage', 'a segment without =', undefined],
  ];
  for (const [text, what, field] of invalid) {
    it(`rejects ${what}`, () => {
      assert.throws(
        () => parseConnectionString(text),
        (err: unknown) =>
          isHubbubError(err, 'HUB_INVALID_CONNECTION_STRING') && (field === undefined || err.detail?.field === field),
      );
    });
  }
});

describe('formatConnectionString', () => {
  it('round-trips through the parser', () => {
    const text = formatConnectionString({ endpoint: 'http://127.0.0.1:7071/', accessKey: 'a+b/c=' });
    assert.equal(text, 'Endpoint=http://127.0.0.1:7071;AccessKey=a+b/c=;Version=1.0;');
    assert.deepEqual(
      { ...parseConnectionString(text) },
      {
        endpoint: 'http://127.0.0.1:7071',
        clientEndpoint: 'http://127.0.0.1:7071',
        accessKey: 'a+b/c=',
        version: '1.0',
      },
    );
    const withClient = formatConnectionString({
      endpoint: 'http://internal:1',
      accessKey: 'k',
      clientEndpoint: 'https://public',
    });
    assert.equal(parseConnectionString(withClient).clientEndpoint, 'https://public');
  });

  it('refuses keys that would break the format', () => {
    for (const accessKey of ['', 'a;b']) {
      assert.throws(
        () => formatConnectionString({ endpoint: 'http://h', accessKey }),
        (err: unknown) => isHubbubError(err, 'HUB_INVALID_CONNECTION_STRING'),
      );
    }
  });
});

describe('createSignalRService endpoints and keys', () => {
  const invalid = (err: unknown) => isHubbubError(err, 'KERNEL_INVALID_OPTION');

  it('takes the endpoint from the first connection string and every key from all of them', async () => {
    const service = createSignalRService({
      connectionString: [
        'Endpoint=http://svc.example;Port=8888;AccessKey=one;Version=1.0;',
        'Endpoint=http://svc.example;Port=8888;AccessKey=two;Version=1.0;ClientEndpoint=https://public.example',
      ],
    });
    assert.equal(service.endpoint, 'http://svc.example:8888');
    assert.equal(service.connectionString, 'Endpoint=http://svc.example:8888;AccessKey=one;Version=1.0;');
    assert.equal((await service.clientAccess('Chat')).url, 'http://svc.example:8888/client/?hub=chat');
    await service.close();
  });

  it('rejects a bad endpoint, no keys or an empty key, and says when the endpoint is not known yet', async () => {
    assert.throws(() => createSignalRService({ keys: ['k'], endpoint: 'ftp://x' }), invalid);
    assert.throws(() => createSignalRService({ keys: [] }), invalid);
    assert.throws(() => createSignalRService({ keys: [''] }), invalid);
    assert.throws(
      () => createSignalRService({ connectionString: 'Endpoint=http://h' }),
      (err: unknown) => isHubbubError(err, 'HUB_INVALID_CONNECTION_STRING'),
    );
    const service = createSignalRService({ keys: ['k'] });
    assert.throws(() => service.connectionString, invalid);
    await assert.rejects(service.clientAccess('chat'), invalid);
    const { url } = await service.listen();
    assert.equal(service.connectionString, `Endpoint=${url};AccessKey=k;Version=1.0;`);
    await service.close();
  });
});
