// negotiate: the client calls it to get the SignalR endpoint URL and an access token for hub "chat".
const { app, input } = require('@azure/functions');

const connectionInfo = input.generic({
  type: 'signalRConnectionInfo',
  name: 'connectionInfo',
  hubName: 'chat',
  connectionStringSetting: 'AzureSignalRConnectionString',
});

app.http('negotiate', {
  methods: ['POST'],
  authLevel: 'anonymous',
  extraInputs: [connectionInfo],
  handler: async (_request, context) => {
    return { body: JSON.stringify(context.extraInputs.get(connectionInfo)) };
  },
});
