#!/usr/bin/env node
// The `hubbub` command: runs the compiled CLI (`npm install` or `npm run build` compiles it into dist/).
const NOT_BUILT = 'CLI_NOT_BUILT';
import('../dist/src/main.js').catch((err) => {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('dist/src/main.js')) throw err;
  process.stderr.write(
    `hubbub: the CLI is not compiled yet: run \`npm run build\` in the repository. [${NOT_BUILT}]\n`,
  );
  process.exitCode = 1;
});
