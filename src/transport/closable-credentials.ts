/**
 * Channel credentials whose connection attempts a closed channel really abandons.
 *
 * grpc-js (1.14) hands each new TCP connection to its credentials' "secure connector" for the TLS
 * handshake and waits, on a referenced socket and without a timeout, until the handshake ends. A
 * hung peer (SIGSTOP, a machine that accepts the TCP connection and then stalls) never ends it,
 * and closing the channel does not either: the connector's destroy() is a no-op and its promise
 * only settles on 'error'. So a coordinator whose call to such a peer had long passed its deadline
 * and whose channels were all closed still could not exit (measured: `fedstat query` and `budget`
 * printed their result, then hung until killed; the one live handle was that socket).
 *
 * The wrapper keeps the handshake from holding the process (the socket is unreferenced while it
 * handshakes, as grpc-js itself unreferences an idle connection: a call waiting for the
 * connection keeps the process alive, not the connection), abandons a handshake that takes longer
 * than `handshakeTimeoutMs` (the subchannel then retries with backoff), and destroys every
 * handshake in progress when grpc-js destroys the connector, which it does when the channel
 * closes. It uses the connector interface grpc-js declares on ChannelCredentials.
 */
import type { Socket } from 'node:net';
import { ChannelCredentials } from '@grpc/grpc-js';

type CreateConnector = ChannelCredentials['_createSecureConnector'];
type SecureConnector = ReturnType<CreateConnector>;
type SecureConnectResult = Awaited<ReturnType<SecureConnector['connect']>>;

/** Longest TLS handshake a client waits for (grpc's C core allows a connection attempt 20 s). */
const HANDSHAKE_TIMEOUT_MS = 20_000;

export interface ClosableCredentialsOptions {
  /** Abandon a TLS handshake after this many ms (default HANDSHAKE_TIMEOUT_MS). */
  readonly handshakeTimeoutMs?: number;
}

class ClosableChannelCredentials extends ChannelCredentials {
  readonly #inner: ChannelCredentials;
  readonly #handshakeTimeoutMs: number;

  constructor(inner: ChannelCredentials, handshakeTimeoutMs: number) {
    super();
    this.#inner = inner;
    this.#handshakeTimeoutMs = handshakeTimeoutMs;
  }

  override _isSecure(): boolean {
    return this.#inner._isSecure();
  }

  override _equals(other: ChannelCredentials): boolean {
    return other === this;
  }

  override _createSecureConnector(...args: Parameters<CreateConnector>): SecureConnector {
    return closableConnector(this.#inner._createSecureConnector(...args), this.#handshakeTimeoutMs);
  }
}

function closableConnector(inner: SecureConnector, timeoutMs: number): SecureConnector {
  const handshaking = new Set<Socket>();
  let destroyed = false;
  return {
    connect(socket: Socket): Promise<SecureConnectResult> {
      if (destroyed) {
        socket.destroy();
        return Promise.reject(new Error('the channel was closed'));
      }
      socket.unref();
      handshaking.add(socket);
      return new Promise<SecureConnectResult>((resolve, reject) => {
        const done = (): void => {
          clearTimeout(timer);
          socket.off('close', closed);
          handshaking.delete(socket);
        };
        const fail = (reason: string): void => {
          done();
          socket.destroy();
          reject(new Error(reason));
        };
        const closed = (): void => fail('the connection closed during the TLS handshake');
        const timer = setTimeout(() => fail(`no TLS handshake within ${timeoutMs} ms`), timeoutMs);
        timer.unref();
        socket.once('close', closed);
        inner.connect(socket).then(
          (r) => {
            done();
            resolve(r);
          },
          (e: unknown) => {
            done();
            reject(e instanceof Error ? e : new Error(String(e)));
          },
        );
      });
    },
    waitForReady: () => inner.waitForReady(),
    getCallCredentials: () => inner.getCallCredentials(),
    destroy(): void {
      destroyed = true;
      for (const socket of handshaking) socket.destroy(); // each one's 'close' rejects its connect()
      inner.destroy();
    },
  };
}

/**
 * `inner` (from ChannelCredentials.createSsl or createInsecure) with handshakes that never keep
 * a process alive, time out, and end when the channel closes.
 */
export function closableCredentials(
  inner: ChannelCredentials,
  options: ClosableCredentialsOptions = {},
): ChannelCredentials {
  const ms = options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;
  if (!Number.isSafeInteger(ms) || ms < 1)
    throw new RangeError('closableCredentials: handshakeTimeoutMs must be a positive integer');
  return new ClosableChannelCredentials(inner, ms);
}
