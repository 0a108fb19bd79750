/**
 * Installations over the wire: `PUT` (create or replace, 200), `PATCH` (JSON Patch, 200), `GET`
 * (200 + JSON) and `DELETE` (204, also for an unknown id) on `/{hub}/installations/{id}`, in
 * Notification Hubs' JSON shape. The service validates the content; this file checks the framing
 * (JSON, object or array, the id in the body matching the path).
 * @module
 */
import type { InstallationInput, InstallationPatchOperation } from '../model.ts';
import type { Exchange } from './exchange.ts';
import { invalidRequest, replyEmpty, replyJson } from './reply.ts';

const inputFields = ['platform', 'pushChannel', 'tags', 'templates', 'userId', 'expirationTime'] as const;

export async function serveInstallation(x: Exchange, id: string): Promise<void> {
  switch (x.method) {
    case 'PUT': {
      const body = x.json();
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        throw invalidRequest('The installation must be a JSON object.', 'body');
      const given = body as Record<string, unknown>;
      if (given.installationId !== undefined && given.installationId !== id)
        throw invalidRequest('The installationId in the body differs from the one in the path.', 'installationId');
      const input: Record<string, unknown> = { installationId: id };
      for (const field of inputFields) if (Object.hasOwn(given, field)) input[field] = given[field];
      await x.service.upsertInstallation(input as unknown as InstallationInput);
      return replyEmpty(x.response, 200, { 'Content-Location': x.location(`installations/${encodeURIComponent(id)}`) });
    }
    case 'PATCH': {
      const body = x.json();
      if (!Array.isArray(body) || body.length === 0)
        throw invalidRequest('The patch must be a non-empty JSON array of operations.', 'body');
      if (body.length > 256) throw invalidRequest('A patch holds at most 256 operations.', 'body');
      await x.service.patchInstallation(id, body as InstallationPatchOperation[]);
      return replyEmpty(x.response, 200, { 'Content-Location': x.location(`installations/${encodeURIComponent(id)}`) });
    }
    case 'GET': {
      const installation = await x.service.getInstallation(id);
      if (installation === undefined)
        throw x.notFound(`No installation '${id.slice(0, 64)}'.`, 'PUSH_INSTALLATION_NOT_FOUND');
      return replyJson(x.response, 200, installation);
    }
    default: {
      await x.service.deleteInstallation(id);
      return replyEmpty(x.response, 204);
    }
  }
}
