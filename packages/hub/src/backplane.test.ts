import { createInProcessBackplane } from './backplane.ts';
import { describeBackplane } from './backplane-conformance.ts';

const shared = createInProcessBackplane();
// One process is one node: every "node" of the suite shares the same in-process backplane.
describeBackplane({ name: 'in-process', create: () => ({ ...shared, close: async () => {} }) });
