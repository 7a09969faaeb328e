/**
 * A party's endpoint, `HOST:PORT`, as `fedstat init` takes it: checked rule by rule so a bad port
 * is reported as a bad port, and reduced to the socket it names, so two parties cannot be given
 * the same one under different spellings.
 *
 * Two endpoints are the same when their ports are equal and their hosts name the same address:
 * - every loopback spelling is one host: `localhost` (and `*.localhost`, RFC 6761), 127.0.0.0/8,
 *   `[::1]` and `[::ffff:127.x.y.z]` (a server that binds the wildcard address answers on all of them);
 * - IP literals compare as addresses (`[::ffff:10.0.0.1]` is 10.0.0.1, `[2001:db8::1]` is
 *   `[2001:DB8:0::1]`);
 * - DNS names compare without case. Names are not resolved: init runs offline, and the address a
 *   name has at init is not necessarily the one it has in production.
 */
import { isIP } from 'node:net';
import { isLoopbackHost } from '../tls/loopback.js';
import { ipAddressBytes, isDnsName } from '../tls/names.js';

export interface CheckedEndpoint {
  /** The host as written, without the brackets of an IPv6 literal. */
  readonly host: string;
  readonly port: number;
  /** What the endpoint names: equal for two spellings of the same socket (see the file comment). */
  readonly socket: string;
  /** Plain words for `socket` in messages, e.g. "this machine's loopback interface, port 7301". */
  readonly describe: string;
}

export const ENDPOINT_EXAMPLE = '127.0.0.1:7301';

/**
 * Checks `HOST:PORT`; returns the endpoint or, when it is unusable, a phrase saying why (without
 * the endpoint itself, which the caller names) and how to write it.
 */
export function checkEndpoint(text: string): CheckedEndpoint | { readonly problem: string } {
  const colon = text.lastIndexOf(':');
  if (colon < 0) return { problem: `has no port; write HOST:PORT, e.g. ${ENDPOINT_EXAMPLE}` };
  let host = text.slice(0, colon);
  const portText = text.slice(colon + 1);
  if (host.includes(':') && !(host.startsWith('[') && host.endsWith(']'))) {
    return { problem: 'an IPv6 address must be in brackets, e.g. [::1]:7301' };
  }
  if (!/^\d+$/.test(portText))
    return { problem: `port ${JSON.stringify(portText)} is not a number; write HOST:PORT with a port from 1 to 65535` };
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    return { problem: `port ${portText} is outside 1-65535; use a port from 1 to 65535` };
  }
  const port = Number(portText);
  if (host.startsWith('[') || host.endsWith(']')) {
    const inner = host.slice(1, -1);
    if (!(host.startsWith('[') && host.endsWith(']')) || isIP(inner) !== 6) {
      return {
        problem: `${host} is not an IPv6 address; brackets are only for IPv6 (write 127.0.0.1:7301 or [::1]:7301)`,
      };
    }
    host = inner;
  }
  if (host === '') return { problem: `has no host; write HOST:PORT, e.g. ${ENDPOINT_EXAMPLE}` };
  if (host.includes('%'))
    return { problem: `host ${host} has a zone id, which means nothing off this machine; give an address without it` };
  const ip = ipAddressBytes(host);
  if (ip === null) {
    const name = host.toLowerCase();
    if (/^[0-9.]+$/.test(name) || /(^|\.)\d+$/.test(name)) {
      return { problem: `host ${host} is not a valid IPv4 address (a host name cannot end in a number)` };
    }
    if (!isDnsName(name)) {
      return {
        problem: `host ${JSON.stringify(host)} is neither an IP address nor a DNS name (letters, digits, inner dashes, dots between labels)`,
      };
    }
  } else if (ip.every((b) => b === 0)) {
    return {
      problem: `host ${host} is the wildcard address, which nobody can connect to; give the address the other parties reach this party at`,
    };
  }
  if (isLoopbackHost(host) || /\.localhost$/i.test(host)) {
    return { host, port, socket: `loopback:${port}`, describe: `this machine's loopback interface, port ${port}` };
  }
  if (ip === null) {
    const name = host.toLowerCase();
    return { host, port, socket: `dns:${name}:${port}`, describe: `${name}, port ${port}` };
  }
  const v4 = ip.length === 4 ? ip : isV4Mapped(ip) ? ip.subarray(12) : null;
  const address = v4 === null ? Buffer.from(ip).toString('hex') : [...v4].join('.');
  return {
    host,
    port,
    socket: `ip:${address}:${port}`,
    describe: `${v4 === null ? host.toLowerCase() : address}, port ${port}`,
  };
}

/** ::ffff:a.b.c.d, the IPv6 spelling of an IPv4 address. */
function isV4Mapped(ip: Uint8Array): boolean {
  return ip.subarray(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff;
}
