/**
 * Installations checked at the door: {@link normalizeInstallation} turns what a caller brings into
 * the stored {@link Installation} (platform known and configured, channel accepted by its
 * provider, tags within the limits, templates compiled), and {@link applyPatch} applies JSON Patch
 * operations as the Notification Hubs SDK sends them.
 * @module
 */
import { PushError, PushErrorCode } from './errors.ts';
import type {
  BrowserChannel,
  Installation,
  InstallationInput,
  InstallationPatchOperation,
  InstallationTemplate,
  Platform,
} from './model.ts';
import type { PushProvider } from './providers/provider.ts';
import { validateTag, validateTags } from './tags.ts';
import { compileHeaders, compileTemplate } from './templates.ts';

export const PLATFORMS: readonly Platform[] = ['browser', 'fcmv1', 'apns'];
const MAX_ID_LENGTH = 256;
const MAX_TEMPLATES = 32;
const MAX_TEMPLATE_NAME = 128;

function invalid(field: string, message: string): PushError {
  return new PushError(PushErrorCode.InvalidInstallation, message, { status: 400, detail: { field } });
}

/** Ids and user ids: 1–256 characters, no control characters, no braces (they delimit `$InstallationId:{id}`). */
export function validateId(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID_LENGTH) {
    throw invalid(field, `${field} must be a string of 1 to ${MAX_ID_LENGTH} characters.`);
  }
  if (/[\u0000-\u001f\u007f{}]/.test(value))
    throw invalid(field, `${field} must not hold control characters or braces.`);
  return value;
}

export function platformOf(value: unknown): Platform {
  if (typeof value === 'string' && (PLATFORMS as readonly string[]).includes(value)) return value as Platform;
  throw new PushError(
    PushErrorCode.UnknownPlatform,
    `Platform '${String(value).slice(0, 40)}' is not one Hubbub delivers to (browser, fcmv1, apns).`,
    { status: 400, detail: { platform: String(value).slice(0, 40) } },
  );
}

export function providerFor(providers: ReadonlyMap<Platform, PushProvider>, platform: Platform): PushProvider {
  const provider = providers.get(platform);
  if (provider === undefined) {
    throw new PushError(PushErrorCode.PlatformNotConfigured, `No provider is configured for platform '${platform}'.`, {
      status: 400,
      detail: { platform },
    });
  }
  return provider;
}

/** The provider's check, then a copy in the stored shape (`{ endpoint, p256dh, auth }` or the token). */
export function normalizeChannel(provider: PushProvider, channel: unknown): BrowserChannel | string {
  let value = channel;
  if (provider.platform === 'browser' && typeof value === 'string' && value.trimStart().startsWith('{')) {
    try {
      value = JSON.parse(value);
    } catch {
      // the provider names what is wrong with the string
    }
  }
  provider.validateChannel(value);
  if (typeof value === 'string') return value;
  const { endpoint, p256dh, auth } = value as BrowserChannel;
  return { endpoint, p256dh, auth };
}

function normalizeTemplate(name: string, value: unknown): InstallationTemplate {
  if (name.length === 0 || name.length > MAX_TEMPLATE_NAME || name.includes('/')) {
    throw invalid(
      'templates',
      `Template name '${name.slice(0, 40)}' must be 1 to ${MAX_TEMPLATE_NAME} characters without '/'.`,
    );
  }
  let raw = value;
  if (typeof raw === 'string') {
    try {
      raw = JSON.parse(raw);
    } catch {
      throw new PushError(PushErrorCode.TemplateInvalidBody, `Template '${name}' is not a JSON object.`, {
        status: 400,
        detail: { template: name },
      });
    }
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new PushError(PushErrorCode.TemplateInvalidBody, `Template '${name}' must be an object with a body.`, {
      status: 400,
      detail: { template: name },
    });
  }
  const { body, headers, tags } = raw as Record<string, unknown>;
  compileTemplate(body, name);
  compileHeaders(headers, name);
  const template: { body: string; headers?: Record<string, string>; tags?: string[] } = { body: body as string };
  if (headers !== undefined && headers !== null) template.headers = { ...(headers as Record<string, string>) };
  if (tags !== undefined && tags !== null) template.tags = validateTags(tags);
  return template;
}

function normalizeTemplates(value: unknown): Record<string, InstallationTemplate> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid('templates', 'templates must be an object.');
  const entries = Object.entries(value);
  if (entries.length > MAX_TEMPLATES) throw invalid('templates', `At most ${MAX_TEMPLATES} templates are allowed.`);
  return Object.fromEntries(entries.map(([name, t]) => [name, normalizeTemplate(name, t)]));
}

function expirationOf(value: unknown, now: number, ttlMs: number | undefined): string | undefined {
  if (value === undefined || value === null)
    return ttlMs === undefined ? undefined : new Date(now + ttlMs).toISOString();
  const time = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(time)) throw invalid('expirationTime', 'expirationTime must be an ISO 8601 time.');
  return new Date(time).toISOString();
}

export interface NormalizeContext {
  readonly providers: ReadonlyMap<Platform, PushProvider>;
  readonly now: number;
  readonly installationTtlMs: number | undefined;
}

/** What a caller brought, checked field by field, as it will be stored. */
export function normalizeInstallation(input: unknown, ctx: NormalizeContext): Installation {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw invalid('installation', 'An installation must be a JSON object.');
  }
  const i = input as Partial<Record<keyof InstallationInput, unknown>>;
  const installationId = validateId(i.installationId, 'installationId');
  const platform = platformOf(i.platform);
  const provider = providerFor(ctx.providers, platform);
  const pushChannel = normalizeChannel(provider, i.pushChannel);
  const tags = i.tags === undefined || i.tags === null ? [] : validateTags(i.tags);
  const templates = normalizeTemplates(i.templates);
  const userId = i.userId === undefined || i.userId === null ? undefined : validateId(i.userId, 'userId');
  const expirationTime = expirationOf(i.expirationTime, ctx.now, ctx.installationTtlMs);
  return {
    installationId,
    platform,
    pushChannel,
    tags,
    templates,
    ...(userId === undefined ? {} : { userId }),
    ...(expirationTime === undefined ? {} : { expirationTime }),
    lastUpdate: new Date(ctx.now).toISOString(),
    pushChannelExpired: false,
  };
}

function patchError(index: number, path: string, message: string): PushError {
  return new PushError(PushErrorCode.InvalidPatch, `Patch operation ${index} (${path.slice(0, 80)}): ${message}.`, {
    status: 400,
    detail: { index, path: path.slice(0, 200) },
  });
}

/** JSON Pointer segments, `~1` and `~0` unescaped. */
function segments(path: string): string[] {
  return path
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** A tag list from a patch value: a tag, a comma-separated string, or an array of tags. */
function tagList(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (typeof value === 'string') {
    const trimmed = value.trim();
    if (trimmed.startsWith('[')) {
      try {
        const parsed: unknown = JSON.parse(trimmed);
        if (Array.isArray(parsed)) return parsed;
      } catch {
        // a plain tag then, which validateTag refuses
      }
    }
    return value.split(',').map((t) => t.trim());
  }
  return [value];
}

/**
 * Applies `operations` in order to a copy of `current` and returns the result, still to be checked
 * as a whole by {@link normalizeInstallation}. Throws PUSH_INVALID_PATCH for an operation it cannot
 * apply, or the field's own code for a bad value.
 */
export function applyPatch(current: Installation, operations: unknown): Record<string, unknown> {
  if (!Array.isArray(operations)) throw patchError(0, '', 'a patch must be a JSON array of operations');
  const next: Record<string, unknown> = {
    ...current,
    tags: [...current.tags],
    templates: { ...current.templates },
  };
  operations.forEach((raw: unknown, index) => {
    if (raw === null || typeof raw !== 'object') throw patchError(index, '', 'an operation must be an object');
    const { op, path, value } = raw as Partial<InstallationPatchOperation>;
    if (op !== 'add' && op !== 'remove' && op !== 'replace')
      throw patchError(index, String(path), `unknown op '${String(op)}'`);
    if (typeof path !== 'string' || !path.startsWith('/'))
      throw patchError(index, String(path), 'path must start with /');
    const [field, name, sub, ...rest] = segments(path);
    const needValue = () => {
      if (value === undefined) throw patchError(index, path, `'${op}' needs a value`);
    };
    if (rest.length > 0) throw patchError(index, path, 'path is too deep');
    if (field === 'tags' && name === undefined) {
      if (op === 'remove') next.tags = [];
      else {
        needValue();
        const given = tagList(value).map(validateTag);
        next.tags = op === 'replace' ? given : [...(next.tags as string[]), ...given];
      }
    } else if (field === 'tags' && sub === undefined) {
      const tag = validateTag(name);
      const tags = (next.tags as string[]).filter((t) => t !== tag);
      next.tags = op === 'remove' ? tags : [...tags, tag];
    } else if (field === 'templates' && name !== undefined && sub === undefined) {
      const templates = next.templates as Record<string, InstallationTemplate>;
      if (op === 'remove') delete templates[name];
      else {
        needValue();
        templates[name] = normalizeTemplate(name, value);
      }
    } else if (field === 'templates' && name !== undefined && sub === 'tags') {
      const templates = next.templates as Record<string, InstallationTemplate>;
      const template = templates[name];
      if (template === undefined) throw patchError(index, path, `no template '${name}'`);
      if (op === 'remove') {
        const { tags: _dropped, ...rest } = template;
        templates[name] = rest;
      } else {
        needValue();
        const given = tagList(value);
        templates[name] = {
          ...template,
          tags: validateTags(op === 'add' ? [...(template.tags ?? []), ...given] : given),
        };
      }
    } else if (field === 'userId' && name === undefined) {
      if (op === 'remove') delete next.userId;
      else next.userId = validateId(value, 'userId');
    } else if (field === 'pushChannel' && name === undefined) {
      if (op === 'remove') throw patchError(index, path, 'an installation must keep a push channel');
      needValue();
      next.pushChannel = value;
      next.pushChannelExpired = false;
    } else {
      throw patchError(
        index,
        path,
        'the service patches /tags, /tags/{tag}, /templates/{name}[/tags], /userId, /pushChannel',
      );
    }
  });
  return next;
}
