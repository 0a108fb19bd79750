// message: triggered by the Service Bus queue; passes each message on to the SignalR hub "chat",
// target "notify", for every connected client.
const { app, output } = require('@azure/functions');

const signalR = output.generic({
  type: 'signalR',
  name: 'signalR',
  hubName: 'chat',
  connectionStringSetting: 'AzureSignalRConnectionString',
});

app.serviceBusQueue('message', {
  connection: 'ServiceBusConnection',
  queueName: 'locations',
  extraOutputs: [signalR],
  handler: async (message, context) => {
    context.log('Service Bus queue message', message);
    context.extraOutputs.set(signalR, { target: 'notify', arguments: [message] });
  },
});
