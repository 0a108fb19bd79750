/**
 * @hubbub/hub-redis — the hub across nodes on Redis: a {@link Backplane} that carries sends, group
 * changes and closes to every node, with cluster presence (connections, users, groups, user
 * grants, the nodes and their URLs) that negotiate and the REST API answer from.
 * @module
 */
export {
  createRedisBackplane,
  RedisBackplane,
  type RedisBackplaneEvents,
  type RedisBackplaneOptions,
} from './backplane.ts';
