import { after, it } from 'node:test';
import { describeBackplane } from '@hubbub/hub/conformance';
import { createRedisBackplane } from '../src/index.ts';
import { deleteKeys, freshPrefix, REDIS_URL, redisMissing } from './redis-under-test.ts';

const missing = await redisMissing(); // throws under CI when Redis is not there
const prefix = freshPrefix(); // each test's cluster gets a prefix of its own below it
if (missing !== undefined) it('Backplane conformance: redis', { skip: missing }, () => {});
else
  describeBackplane({
    name: 'redis',
    create: async (cluster) => {
      const backplane = createRedisBackplane({ url: REDIS_URL, prefix: `${prefix}${cluster}:`, heartbeatMs: 100 });
      await backplane.start();
      return backplane;
    },
  });
after(() => (missing === undefined ? deleteKeys(prefix) : undefined));
