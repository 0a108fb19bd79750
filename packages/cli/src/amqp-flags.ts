/**
 * The Service Bus SDK's ports and connection strings as the commands that serve them (`hubbub
 * functions`, `hubbub bus`) take and print them.
 * @module
 */
import { UsageError } from '@hubbub/system';

/** `--amqp-port` / `--amqps-port`: a port number, `off` (false), or undefined when absent. */
export function portOrOff(flag: string, text: string | undefined): number | false | undefined {
  if (text === undefined) return undefined;
  if (text === 'off') return false;
  const n = Number(text);
  if (text === '' || !Number.isInteger(n) || n < 0 || n > 65_535) {
    throw new UsageError(`${flag}: '${text}' is neither a port number nor off.`);
  }
  return n;
}

/** The AMQP (7.x) and AMQPS (1.x too, with the CA to trust) connection strings, a line each. */
export function amqpLines(strings: {
  amqpConnectionString: string | undefined;
  amqpsConnectionString: string | undefined;
  caPath: string | undefined;
}): string {
  let text = '';
  if (strings.amqpConnectionString !== undefined) text += `Service Bus (AMQP): ${strings.amqpConnectionString}\n`;
  if (strings.amqpsConnectionString !== undefined) {
    text += `Service Bus (AMQPS, the 1.x SDK too): ${strings.amqpsConnectionString}\n  with NODE_EXTRA_CA_CERTS=${strings.caPath}\n`;
  }
  return text;
}
