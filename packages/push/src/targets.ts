/**
 * Who a send reaches: {@link TargetResolver} turns a target into deliveries — from the tag index
 * where the expression allows, skipping expired installations and gone channels, matching the
 * expression against each installation's tags (plus a template's own for template sends), and
 * rendering templates (compiled once per body, cached), refusing renders over the platform limit.
 * @module
 */
import type { Clock } from '@hubbub/kernel';
import type { BrowserChannel, Installation, Notification, Platform, SendTarget } from './model.ts';
import type { PushProvider } from './providers/provider.ts';
import { type InstallationRepository, indexTags } from './repository.ts';
import { parseTagExpression, type TagExpression } from './tags.ts';
import { type CompiledTemplate, compileHeaders, compileTemplate, type Properties, toProperties } from './templates.ts';

/** One delivery as it travels in a job. */
export interface DeliveryItem {
  readonly platform: Platform;
  readonly channel: BrowserChannel | string;
  readonly installationId?: string;
  readonly template?: string;
  /** Rendered template body; absent for native sends (the job's `native.body`). */
  readonly body?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A target found, or a delivery that failed before reaching a provider (template too large). */
export type Candidate =
  | { readonly ok: true; readonly item: DeliveryItem }
  | { readonly ok: false; readonly item: DeliveryItem; readonly outcome: string; readonly reason: string };

const TEMPLATE_CACHE = 10_000;

export interface TargetResolverOptions {
  readonly providers: ReadonlyMap<Platform, PushProvider>;
  readonly repository: InstallationRepository;
  readonly clock: Clock;
}

export class TargetResolver {
  readonly #o: TargetResolverOptions;
  readonly #templates = new Map<string, { body: CompiledTemplate; headers: ReturnType<typeof compileHeaders> }>();

  constructor(options: TargetResolverOptions) {
    this.#o = options;
  }

  #compiled(name: string, body: string, headers: unknown) {
    const key = `${body}\u0000${JSON.stringify(headers ?? null)}`;
    let entry = this.#templates.get(key);
    if (entry === undefined) {
      entry = { body: compileTemplate(body, name), headers: compileHeaders(headers, name) };
      if (this.#templates.size >= TEMPLATE_CACHE) this.#templates.delete(this.#templates.keys().next().value!);
      this.#templates.set(key, entry);
    }
    return entry;
  }

  /** The deliveries a send makes, in installation id order. */
  async *resolve(notification: Notification, target: SendTarget): AsyncIterable<Candidate> {
    if (target.kind === 'handle') {
      yield { ok: true, item: { platform: target.platform, channel: target.channel } };
      return;
    }
    const { repository, clock } = this.#o;
    const now = clock.now();
    const expression = target.kind === 'tags' ? parseTagExpression(target.expression) : undefined;
    const platform = notification.format === 'template' ? undefined : notification.format;
    let source: AsyncIterable<Installation> | Iterable<Installation>;
    if (target.kind === 'installation') {
      const one = await repository.get(target.installationId);
      source = one === undefined ? [] : [one];
    } else {
      const tags = expression?.indexTags;
      source = repository.find({
        ...(tags === undefined ? {} : { tags }),
        ...(platform === undefined ? {} : { platform }),
      });
    }
    const properties = notification.format === 'template' ? toProperties(notification.properties) : undefined;
    for await (const installation of source) {
      if (installation.pushChannelExpired || !this.#o.providers.has(installation.platform)) continue;
      if (installation.expirationTime !== undefined && Date.parse(installation.expirationTime) <= now) continue;
      if (properties === undefined) {
        if (installation.platform !== platform) continue;
        if (expression !== undefined && !expression.matches(ownTags(installation))) continue;
        yield {
          ok: true,
          item: {
            platform: installation.platform,
            channel: installation.pushChannel,
            installationId: installation.installationId,
          },
        };
      } else {
        yield* this.#templateTargets(installation, expression, properties);
      }
    }
  }

  *#templateTargets(installation: Installation, expression: TagExpression | undefined, properties: Properties) {
    const own = expression === undefined ? undefined : ownTags(installation);
    const provider = this.#o.providers.get(installation.platform)!;
    for (const [name, template] of Object.entries(installation.templates)) {
      if (expression !== undefined && own !== undefined) {
        const tags =
          template.tags === undefined || template.tags.length === 0 ? own : new Set([...own, ...template.tags]);
        if (!expression.matches(tags)) continue;
      }
      const base = {
        platform: installation.platform,
        channel: installation.pushChannel,
        installationId: installation.installationId,
        template: name,
      };
      let body: string;
      let headers: Record<string, string> | undefined;
      try {
        const compiled = this.#compiled(name, template.body, template.headers);
        body = compiled.body.render(properties);
        headers = compiled.headers(properties);
      } catch (err) {
        yield { ok: false, item: base, outcome: 'template-error', reason: (err as Error).message } satisfies Candidate;
        continue;
      }
      const size = Buffer.byteLength(body);
      if (size > provider.maxPayloadBytes) {
        yield {
          ok: false,
          item: base,
          outcome: 'too-large',
          reason: `the rendered payload is ${size} bytes, over the platform's ${provider.maxPayloadBytes}`,
        } satisfies Candidate;
        continue;
      }
      yield { ok: true, item: { ...base, body, ...(headers === undefined ? {} : { headers }) } } satisfies Candidate;
    }
  }
}

/** An installation's own tags with `$InstallationId:{id}` and `$UserId:{id}` (template tags not included). */
function ownTags(installation: Installation): Set<string> {
  const tags = indexTags({ ...installation, templates: {} });
  return tags;
}
