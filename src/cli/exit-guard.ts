/**
 * The last safety net of the commands that dial peers (`query`, `budget`): once a command has
 * closed everything it opened, the process ends within EXIT_GUARD_MS even if a socket it cannot
 * reach still holds the event loop.
 *
 * Such a socket exists, and only one kind was found: a TCP connection grpc-js is still opening
 * to a peer that drops the SYN (a firewalled or vanished host; an accept queue that a hung peer
 * let fill up). grpc-js opens it in its subchannel connector with no timeout, and neither closing
 * the channel nor the credentials' connector (see transport/closable-credentials.ts, which ends
 * TLS handshakes) can reach it. Measured: a Describe to such an endpoint failed at its 1 s
 * deadline, the channel was closed, and the process still lived 134 s, until Linux gave up
 * retrying the SYN. Everything else a command opens is closed by the command itself (channels,
 * calls past their deadline, the SEAL worker, the transparency log), so in every other case the
 * process has already exited before the guard could fire: its timer is unreferenced and never
 * keeps a process alive or delays a normal exit.
 */
import { describeError } from '../errors.js';

/** How long a command's process may outlive the command's own work. */
const EXIT_GUARD_MS = 1_000;

/**
 * Call when the command has finished and closed what it opened (after its `await using`
 * scope). If the process is still alive EXIT_GUARD_MS later, it exits with the exit code already
 * set; with `verbose` it first says which handles were still open.
 */
export function armExitGuard(options: { readonly verbose?: boolean } = {}): void {
  const timer = setTimeout(() => {
    if (options.verbose === true) {
      let open: string;
      try {
        open = process.getActiveResourcesInfo().join(', ');
      } catch (e) {
        open = describeError(e);
      }
      process.stderr.write(
        `fedstat: exiting ${EXIT_GUARD_MS} ms after the command finished; still open: ${open === '' ? '(none listed)' : open} (a connection grpc-js was still opening)\n`,
      );
    }
    process.exit();
  }, EXIT_GUARD_MS);
  timer.unref();
}
