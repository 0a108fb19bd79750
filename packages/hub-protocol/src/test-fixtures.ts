/**
 * One sample of every message shape, shared by the codec tests (not exported by the package).
 * @module
 */
import { type HubMessage, MessageType } from './messages.ts';

export const sampleMessages: ReadonlyArray<readonly [string, HubMessage]> = [
  ['non-blocking invocation', { type: MessageType.Invocation, target: 'send', arguments: [1, 'two', { three: 3 }] }],
  ['blocking invocation', { type: MessageType.Invocation, invocationId: '7', target: 'echo', arguments: ['hi'] }],
  [
    'invocation with streams and headers',
    {
      type: MessageType.Invocation,
      headers: { trace: 'abc' },
      invocationId: '2',
      target: 'upload',
      arguments: [],
      streamIds: ['0', '1'],
    },
  ],
  ['invocation with no arguments', { type: MessageType.Invocation, target: 'tick', arguments: [] }],
  ['stream item', { type: MessageType.StreamItem, invocationId: '3', item: { lat: 1.5, lng: -2.25 } }],
  ['stream item null', { type: MessageType.StreamItem, invocationId: '3', item: null }],
  ['void completion', { type: MessageType.Completion, invocationId: '4' }],
  ['completion with result', { type: MessageType.Completion, invocationId: '4', result: [1, 2, 3] }],
  ['completion with null result', { type: MessageType.Completion, invocationId: '4', result: null }],
  ['completion with falsy result', { type: MessageType.Completion, invocationId: '4', result: 0 }],
  ['completion with error', { type: MessageType.Completion, invocationId: '4', error: 'boom' }],
  [
    'stream invocation',
    { type: MessageType.StreamInvocation, invocationId: '5', target: 'counter', arguments: [10, 500] },
  ],
  ['cancel invocation', { type: MessageType.CancelInvocation, invocationId: '5' }],
  ['ping', { type: MessageType.Ping }],
  ['close', { type: MessageType.Close }],
  ['close with error', { type: MessageType.Close, error: 'Server is shutting down.' }],
  ['close with reconnect', { type: MessageType.Close, error: 'restart', allowReconnect: true }],
  ['ack', { type: MessageType.Ack, sequenceId: 36 }],
  ['sequence', { type: MessageType.Sequence, sequenceId: 1 }],
  ['unicode arguments', { type: MessageType.Invocation, target: 'say', arguments: ['héllo wörld ✓ 🚚'] }],
];
