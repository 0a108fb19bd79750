// message: triggered by the Service Bus queue; passes each message on to the SignalR hub "chat",
// target "notify", for every connected client — as the seed's Message.cs does, which binds the
// queue message as a string: the body's text, so the seed's chat.js (message.replace(…)) shows it.
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
    const text =
      typeof message === 'string'
        ? message
        : Buffer.isBuffer(message)
          ? message.toString('utf8')
          : JSON.stringify(message);
    context.extraOutputs.set(signalR, { target: 'notify', arguments: [text] });
  },
});
