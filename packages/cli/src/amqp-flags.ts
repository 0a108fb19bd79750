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

/** The HTTP port whose SDK ports are the well-known ones. */
const DEFAULT_HTTP_PORT = 7071;

/**
 * The SDK's ports when the flags do not give them: 5673 and 5671 (what `npm start` takes too)
 * with the default HTTP port, free ones otherwise — so a command given another `--port` to run
 * beside `npm start` (or another command) does not collide on them; the connection strings it
 * prints name the ports it got.
 */
export function defaultAmqpPorts(httpPort: number): { amqp: number; amqps: number } {
  return httpPort === DEFAULT_HTTP_PORT ? { amqp: 5673, amqps: 5671 } : { amqp: 0, amqps: 0 };
}

export const amqpPortsHelp = `  --amqp-port N       the @azure/service-bus SDK's AMQP port (default 5673 with --port 7071, a free
                      one with any other --port; off)
  --amqps-port N      its AMQPS port, the only one the 1.x SDK reaches (default 5671 with --port
                      7071, a free one otherwise; off); trust <data>/tls/ca.pem with
                      NODE_EXTRA_CA_CERTS`;

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
