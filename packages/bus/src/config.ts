/**
 * Declared entities: Hubbub's own `{queues, topics}` shape, or the Azure Service Bus emulator's
 * Config.json (`UserConfig.Namespaces[].Queues/Topics` with PascalCase properties), converted;
 * and applying them through any broker's admin (create what is missing).
 * @module
 */
import type { BusAdmin } from './admin.ts';
import type { EntitiesConfig } from './entities.ts';
import { BusError } from './errors.ts';
import type { RuleDescription, RuleFilter } from './rules/index.ts';

type Json = Record<string, unknown>;

const camel = (k: string): string => k.charAt(0).toLowerCase() + k.slice(1);

function props(p: unknown): Json {
  const out: Json = {};
  if (p === null || typeof p !== 'object') return out;
  for (const [k, v] of Object.entries(p as Json)) {
    if (v === '' || v === null) continue;
    out[camel(k)] = v;
  }
  return out;
}

const CORRELATION_KEYS: Record<string, string> = {
  CorrelationId: 'correlationId',
  MessageId: 'messageId',
  To: 'to',
  ReplyTo: 'replyTo',
  Label: 'subject',
  Subject: 'subject',
  SessionId: 'sessionId',
  ReplyToSessionId: 'replyToSessionId',
  ContentType: 'contentType',
};

function rule(r: Json): RuleDescription {
  const p = (r.Properties ?? {}) as Json;
  let filter: RuleFilter;
  const type = String(p.FilterType ?? '').toLowerCase();
  if (type === 'sql') {
    filter = { kind: 'sql', expression: String((p.SqlFilter as Json | undefined)?.SqlExpression ?? '1=1') };
  } else if (type === 'correlation') {
    const c = (p.CorrelationFilter ?? {}) as Json;
    const f: Json = { kind: 'correlation' };
    for (const [k, v] of Object.entries(c)) {
      if (k === 'Properties') f.applicationProperties = v;
      else if (CORRELATION_KEYS[k] !== undefined && v !== '') f[CORRELATION_KEYS[k]] = v;
    }
    filter = f as RuleFilter;
  } else {
    filter = { kind: 'true' };
  }
  const action = (p.Action as Json | undefined)?.SqlExpression;
  const out: RuleDescription = { name: String(r.Name), filter };
  return typeof action === 'string' && action !== '' ? { ...out, action: { sqlExpression: action } } : out;
}

/** Returns an {@link EntitiesConfig}, converting the emulator's Config.json when given one. */
export function fromEmulatorConfig(json: unknown): EntitiesConfig {
  if (json === null || typeof json !== 'object') {
    throw new BusError('BUS_INVALID_OPTION', 'entities config: must be a JSON object');
  }
  const user = (json as Json).UserConfig as Json | undefined;
  if (user === undefined) return json as EntitiesConfig;
  const out: Required<EntitiesConfig> = { queues: [], topics: [] };
  for (const ns of (user.Namespaces ?? []) as Json[]) {
    for (const q of (ns.Queues ?? []) as Json[]) out.queues.push({ name: String(q.Name), ...props(q.Properties) });
    for (const t of (ns.Topics ?? []) as Json[]) {
      out.topics.push({
        name: String(t.Name),
        ...props(t.Properties),
        subscriptions: ((t.Subscriptions ?? []) as Json[]).map((s) => {
          const rules = ((s.Rules ?? []) as Json[]).map(rule);
          return { name: String(s.Name), ...props(s.Properties), ...(rules.length > 0 ? { rules } : {}) };
        }),
      });
    }
  }
  return out;
}

/** Creates the declared entities that do not exist yet (existing ones are left as they are). */
export async function applyEntities(admin: BusAdmin, config: EntitiesConfig): Promise<void> {
  if (config === null || typeof config !== 'object') {
    throw new BusError('BUS_INVALID_OPTION', 'entities: must be an object with queues and topics');
  }
  for (const q of config.queues ?? []) {
    const { name, ...options } = q;
    if (!(await admin.queueExists(name))) await admin.createQueue(name, options);
  }
  for (const t of config.topics ?? []) {
    const { name, subscriptions, ...options } = t;
    if (!(await admin.topicExists(name))) await admin.createTopic(name, options);
    for (const s of subscriptions ?? []) {
      const { name: subName, ...subOptions } = s;
      const existing = await admin.listSubscriptions(name);
      const key = String(subName).toLowerCase();
      if (!existing.some((e) => e.subscriptionName.toLowerCase() === key)) {
        await admin.createSubscription(name, subName, subOptions);
      }
    }
  }
}
