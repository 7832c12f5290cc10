#!/usr/bin/env node
// The pvault command line. The commands are TypeScript (bin/cli/); tsx runs them without a build step.
import './polyfills.js';
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
