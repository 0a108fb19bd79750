import { createMemoryOutcomeStore } from '@hubbub/push';
import { describeOutcomeStore } from '@hubbub/push/conformance';

// The reference outcome store, through the suite every OutcomeStore runs.
describeOutcomeStore({ name: 'memory', create: () => createMemoryOutcomeStore() });
