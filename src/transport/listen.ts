/**
 * Serving a grpc-js server on a TCP address so that stopping it takes a bounded time, whatever
 * the clients do.
 *
 * grpc-js's own `bindAsync` keeps the sockets it accepts out of reach: `forceShutdown` destroys
 * HTTP/2 sessions but not a connection still in its TLS handshake, and `tryShutdown` waits for
 * that connection to end. A hung client (SIGSTOP, or one that connects and sends nothing) kept
 * `fedstat agency serve` alive after SIGTERM until it went away or Node's 120 s handshake timeout
 * passed, with its store and ledger still open (measured). So the port is owned here: every
 * accepted socket is tracked and handed to the server through its public connection injector, and
 * `close()` stops accepting, lets calls in flight finish for a grace period (tryShutdown), then
 * cancels what is left (forceShutdown) and destroys every socket that is still open.
 */
import { lookup } from 'node:dns/promises';
import { createServer, isIP, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import type { Server, ServerCredentials } from '@grpc/grpc-js';
import { FedstatError } from '../errors.js';

/** How long calls in flight may take to finish once a server is asked to stop. */
export const SHUTDOWN_GRACE_MS = 2_000;

/** A gRPC server listening on its port, and how to stop it. */
export interface RunningServer {
  /** The bound port (useful with port 0). */
  readonly port: number;
  /**
   * Stops accepting connections, lets calls in flight finish for up to the grace period, then
   * cancels the rest and closes every connection. Resolves within the grace period plus a few
   * ms whatever the clients do; idempotent.
   */
  close(): Promise<void>;
}

export interface ListenOptions {
  /** Grace period of close() in ms (default SHUTDOWN_GRACE_MS). */
  readonly graceMs?: number;
}

/** The addresses `host` names: itself when it is an IP address, else every address it resolves to. */
async function addressesOf(host: string): Promise<string[]> {
  if (isIP(host) !== 0) return [host];
  try {
    const found = await lookup(host, { all: true });
    return [...new Set(found.map((a) => a.address))];
  } catch (e) {
    throw new FedstatError(
      'UNAVAILABLE',
      `cannot listen on ${host}: the name does not resolve (${(e as Error).message}); give an address`,
      { cause: e },
    );
  }
}

function listenOn(listener: NetServer, address: string, port: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const failed = (err: Error): void => reject(err);
    listener.once('error', failed);
    listener.listen({ host: address, port }, () => {
      listener.off('error', failed);
      resolve((listener.address() as AddressInfo).port);
    });
  });
}

function closed(socket: Socket): Promise<void> {
  return socket.closed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()));
}

/**
 * Serves `server` on host:port (port 0 picks a free one; a DNS name listens on every address it
 * resolves to) with `credentials`. A port in use becomes a one-line UNAVAILABLE error.
 */
export async function listen(
  server: Server,
  host: string,
  port: number,
  credentials: ServerCredentials,
  options: ListenOptions = {},
): Promise<RunningServer> {
  const graceMs = options.graceMs ?? SHUTDOWN_GRACE_MS;
  if (!Number.isSafeInteger(graceMs) || graceMs < 0)
    throw new RangeError('listen: graceMs must be a non-negative integer');
  const addresses = await addressesOf(host);
  const injector = server.createConnectionInjector(credentials);
  const sockets = new Set<Socket>();
  const accept = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // Errors of an accepted socket end it; the server never sees them as its own.
    socket.on('error', () => undefined);
    injector.injectConnection(socket);
  };
  // As grpc-js binds a name: the first address that can be bound picks the port, the others
  // follow it, and serving on some of the addresses is enough.
  const listeners: NetServer[] = [];
  let bound = port;
  let firstError: Error | null = null;
  for (const address of addresses) {
    const listener = createServer({ noDelay: true }, accept);
    try {
      bound = await listenOn(listener, address, bound);
    } catch (e) {
      firstError ??= e as Error;
      continue;
    }
    listeners.push(listener);
    // accept() failures (EMFILE …) are the kernel's, not a reason to crash the server.
    listener.on('error', () => undefined);
  }
  if (listeners.length === 0) {
    injector.destroy();
    const why = firstError?.message ?? 'no address';
    throw new FedstatError('UNAVAILABLE', `cannot listen on ${host}:${port}: ${why}; choose another --port`, {
      cause: firstError,
    });
  }

  let closing: Promise<void> | null = null;
  const shutdown = async (): Promise<void> => {
    for (const l of listeners) l.close();
    let timer: NodeJS.Timeout | undefined;
    const graceful = new Promise<void>((resolve) => {
      server.tryShutdown(() => resolve());
    });
    const expired = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([graceful, expired]);
    clearTimeout(timer);
    // Calls still running and connections still handshaking (a hung client) end now.
    server.forceShutdown();
    const open = [...sockets];
    for (const s of open) s.destroy();
    await Promise.all(open.map(closed));
  };
  return {
    port: bound,
    close: () => (closing ??= shutdown()),
  };
}
