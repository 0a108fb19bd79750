import { createMemoryInstallationRepository } from '@hubbub/push';
import { describeInstallationRepository } from '@hubbub/push/conformance';

// The reference repository, through the suite every InstallationRepository runs.
describeInstallationRepository({ name: 'memory', create: () => createMemoryInstallationRepository() });
