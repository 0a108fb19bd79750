// The echo of bench/e2e-latency's round trip, as a serverless SignalR app writes it: a negotiate
// function, and a signalRTrigger function whose return value is the client's invocation result.
const { app, input, trigger } = require('@azure/functions');

const connectionInfo = input.generic({ type: 'signalRConnectionInfo', name: 'connectionInfo', hubName: 'echo' });

app.post('negotiate', {
  authLevel: 'anonymous',
  extraInputs: [connectionInfo],
  handler: (_request, context) => ({ jsonBody: context.extraInputs.get(connectionInfo) }),
});

app.generic('echo', {
  trigger: trigger.generic({
    type: 'signalRTrigger',
    name: 'invocation',
    hubName: 'echo',
    category: 'messages',
    event: 'echo',
    parameterNames: ['value'],
  }),
  handler: (_invocation, context) => context.triggerMetadata.value,
});
