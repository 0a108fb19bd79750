/**
 * The persistence port of installations: {@link InstallationRepository}.
 *
 * Where the line sits, and why: the repository stores installations as the service validated them
 * and answers two questions fast — one installation by id, and the installations carrying any of a
 * set of tags (their own, template tags, `$InstallationId:{id}`, `$UserId:{id}`) — because a
 * tag-expression fan-out to 100,000 installations must start from an index, not a scan. Tag
 * expressions themselves are evaluated above it, the same for every repository.
 * @module
 */
import type { Installation, Platform } from './model.ts';

export interface InstallationQuery {
  /** Only installations carrying at least one of these tags (see {@link indexTags}). @default every installation */
  readonly tags?: readonly string[];
  /** Only installations of this platform. */
  readonly platform?: Platform;
  /** Only installations whose id sorts after this one (code-unit order), for paging. */
  readonly after?: string;
}

/**
 * Stored installations by id. `put` replaces the whole installation (the service applies patches
 * itself); `find` iterates in ascending `installationId` order (JavaScript code-unit order) and
 * reflects writes made before it was called; writes made while it runs may or may not be seen.
 */
export interface InstallationRepository {
  /** `memory`, `store` … */
  readonly kind: string;
  get(installationId: string): Promise<Installation | undefined>;
  /** Creates or replaces. */
  put(installation: Installation): Promise<void>;
  /** True when it existed. */
  delete(installationId: string): Promise<boolean>;
  find(query?: InstallationQuery): AsyncIterable<Installation>;
  /** Releases connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * The tags an installation is found by: its own tags, every template's tags, `$InstallationId:{id}`
 * and, with a user id, `$UserId:{id}`. Every repository indexes exactly these.
 */
export function indexTags(installation: Installation): Set<string> {
  const tags = new Set(installation.tags);
  for (const template of Object.values(installation.templates)) for (const t of template.tags ?? []) tags.add(t);
  tags.add(`$InstallationId:{${installation.installationId}}`);
  if (installation.userId !== undefined) tags.add(`$UserId:{${installation.userId}}`);
  return tags;
}
