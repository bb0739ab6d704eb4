#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { toolVersion } from '../scan/scan-path.js';
import { registerScanCommand } from './scan-command.js';

/** The ptmscope command line; other commands register themselves here the same way as scan. */
function buildProgram(): Command {
  const program = new Command('ptmscope')
    .description('Supply-chain security for pre-trained models: scan model files without running them.')
    .version(toolVersion(), '-V, --version', 'print the version')
    // Usage errors must exit 2 (1 means "findings"), so commander reports instead of exiting.
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  registerScanCommand(program);
  return program;
}

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version arrive here with exitCode 0; everything else is bad usage.
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    process.stderr.write(`ptmscope: internal error: ${(e as Error)?.stack ?? String(e)}\nPlease report this.\n`);
    process.exitCode = 2;
  }
}

await main();
