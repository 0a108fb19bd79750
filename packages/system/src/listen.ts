/**
 * Listening on the system's port, with the one failure a user meets often said precisely: a port
 * another process holds is `SYSTEM_PORT_IN_USE`, naming the flag and variable that pick another.
 * @module
 */
import type { Server } from 'node:http';
import { HubbubError } from '@hubbub/kernel';

export function listenOn(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((ok, fail) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      if (err.code === 'EADDRINUSE') {
        fail(
          new HubbubError(
            'SYSTEM_PORT_IN_USE',
            `Port ${port} on ${host} is in use by another process: stop it, or pick another port with --port N (or PORT=N).`,
            { cause: err, detail: { host, port } },
          ),
        );
      } else fail(err);
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      ok();
    });
  });
}
