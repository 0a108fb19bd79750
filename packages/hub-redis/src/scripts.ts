/**
 * The presence registry's Lua scripts: each change is one script, so a node that dies halfway
 * leaves no half-written record. Every script takes `ARGV[1]` = the key prefix and builds its keys
 * from it (one Redis, not Redis Cluster: the keys of a change live in different slots).
 *
 *   {p}nodes                 ZSET node id → heartbeat expiry (ms)
 *   {p}node:{id}             HASH url, connections
 *   {p}node:{id}:conns       SET "{hub}\n{connectionId}" of the node's connections
 *   {p}c:{hub}               HASH connectionId → userId ('' without one)
 *   {p}u:{hub}:{user}        SET the user's connection ids
 *   {p}g:{hub}:{group}       SET the group's connection ids
 *   {p}cg:{hub}:{id}         SET the connection's groups
 *   {p}gr:{hub}:{user}       ZSET group → grant expiry (ms); the key expires with its last grant
 * @module
 */

/** Removes one connection's records; shared by a node's own disconnects and the cleanup of a dead node. */
const drop = `
local function drop(p, hub, id)
  local user = redis.call('HGET', p .. 'c:' .. hub, id)
  if not user then return 0 end
  redis.call('HDEL', p .. 'c:' .. hub, id)
  if user ~= '' then redis.call('SREM', p .. 'u:' .. hub .. ':' .. user, id) end
  local cg = p .. 'cg:' .. hub .. ':' .. id
  for _, g in ipairs(redis.call('SMEMBERS', cg)) do redis.call('SREM', p .. 'g:' .. hub .. ':' .. g, id) end
  redis.call('DEL', cg)
  return 1
end
`;

/** Renews every grant of a user to `now + ttl` and lets the key live as long as its last grant. */
const renew = `
local function renew(key, now, ttl)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  local groups = redis.call('ZRANGE', key, 0, -1)
  if #groups == 0 then return end
  for _, g in ipairs(groups) do redis.call('ZADD', key, 'GT', now + ttl, g) end
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', key, last[2])
end
`;

export const scripts = {
  /** ARGV: p, node, hub, connectionId, userId. */
  connected: `
local p, node, hub, id, user = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if redis.call('HSETNX', p .. 'c:' .. hub, id, user) == 0 then return 0 end
if user ~= '' then redis.call('SADD', p .. 'u:' .. hub .. ':' .. user, id) end
redis.call('SADD', p .. 'node:' .. node .. ':conns', hub .. '\\n' .. id)
redis.call('HINCRBY', p .. 'node:' .. node, 'connections', 1)
return 1
`,
  /** ARGV: p, node, hub, connectionId, userId, now, grantTtlMs ('' for none). */
  disconnected: `${drop}${renew}
local p, node, hub, id, user, now, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7]
if redis.call('SREM', p .. 'node:' .. node .. ':conns', hub .. '\\n' .. id) == 1 then
  redis.call('HINCRBY', p .. 'node:' .. node, 'connections', -1)
end
drop(p, hub, id)
if user ~= '' and ttl ~= '' then renew(p .. 'gr:' .. hub .. ':' .. user, now, tonumber(ttl)) end
return 1
`,
  /** ARGV: p, hub, connectionId, group, 'joined' | 'left'. */
  membership: `
local p, hub, id, group, change = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if change == 'joined' then
  if redis.call('HEXISTS', p .. 'c:' .. hub, id) == 0 then return 0 end
  redis.call('SADD', p .. 'g:' .. hub .. ':' .. group, id)
  redis.call('SADD', p .. 'cg:' .. hub .. ':' .. id, group)
else
  redis.call('SREM', p .. 'g:' .. hub .. ':' .. group, id)
  redis.call('SREM', p .. 'cg:' .. hub .. ':' .. id, group)
end
return 1
`,
  /** ARGV: p, hub, userId, group, now. 1 when the user has a grant or a connection in the group. */
  userInGroup: `
local p, hub, user, group, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local expires = redis.call('ZSCORE', p .. 'gr:' .. hub .. ':' .. user, group)
if expires and tonumber(expires) > now then return 1 end
return redis.call('SINTERCARD', 2, p .. 'u:' .. hub .. ':' .. user, p .. 'g:' .. hub .. ':' .. group, 'LIMIT', 1)
`,
  /** ARGV: p, hub, userId, group, now, ttlMs. */
  grant: `${renew}
local p, hub, user, group, now, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local key = p .. 'gr:' .. hub .. ':' .. user
redis.call('ZADD', key, now + ttl, group)
local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', key, last[2])
return 1
`,
  /**
   * ARGV: p, node, now, ttlMs, url ('' to keep). Renews the node's heartbeat; returns
   * `{ wasListed, deadNodes... }` (`wasListed` 0: the node had been taken for dead and cleaned).
   */
  heartbeat: `
local p, node, now, ttl, url = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local added = redis.call('ZADD', p .. 'nodes', now + ttl, node)
if url ~= '' then redis.call('HSET', p .. 'node:' .. node, 'url', url) end
local result = { 1 - added }
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', p .. 'nodes', '-inf', now, 'LIMIT', 0, 16)) do
  table.insert(result, dead)
end
return result
`,
  /**
   * ARGV: p, node, now, batch. Removes up to `batch` connections of a node whose heartbeat ran out;
   * once none are left, the node itself. Returns the connections still to remove (-1: the node is
   * alive again or already gone).
   */
  cleanup: `${drop}
local p, node, now, batch = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local expires = redis.call('ZSCORE', p .. 'nodes', node)
if not expires or tonumber(expires) > now then return -1 end
local conns = p .. 'node:' .. node .. ':conns'
for _, entry in ipairs(redis.call('SPOP', conns, batch)) do
  local cut = string.find(entry, '\\n', 1, true)
  drop(p, string.sub(entry, 1, cut - 1), string.sub(entry, cut + 1))
end
local left = redis.call('SCARD', conns)
if left == 0 then
  redis.call('ZREM', p .. 'nodes', node)
  redis.call('DEL', p .. 'node:' .. node)
end
return left
`,
  /** ARGV: p, node. A node leaving on purpose: its records go at once (cleanup with no wait). */
  leave: `
local p, node = ARGV[1], ARGV[2]
redis.call('ZADD', p .. 'nodes', 0, node)
return 1
`,
} as const;

export type ScriptName = keyof typeof scripts;
