/** Runs the built `fedstat` CLI as a child process and collects its exit code and output. */
import { spawn } from 'node:child_process';
import { cliPath } from '../../src/demo/agency-processes.js';

export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

export function runCli(args: readonly string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      err += s;
    });
    child.on('exit', (code) => resolve({ code: code ?? -1, out, err }));
  });
}
