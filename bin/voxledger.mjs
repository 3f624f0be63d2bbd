#!/usr/bin/env node
// The voxledger command. The sources are TypeScript run through tsx (no build step).
import { register } from 'tsx/esm/api';
register();
// `voxledger cdr | head` closes the pipe early: that is not an error.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
