import { describeCacheEngine } from '@hubbub/cache/engine';
import { createRedisEngine } from '../src/engines/redis/engine.ts';
import { redisUnderTest } from './redis-under-test.ts';

const redis = await redisUnderTest(); // a key prefix of its own per run; skips or fails (CI) without Redis
const create = () => createRedisEngine({ url: redis.url });
describeCacheEngine({ name: 'redis', time: 'server', create, ...redis.suite });
