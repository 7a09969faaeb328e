/**
 * Plain TCP is allowed only where no network attacker can sit: the loopback interface. Everything
 * else speaks mTLS with the federation's certificates; `--insecure` on any other address is
 * refused before a socket is opened, so a misconfigured deployment fails loudly instead of
 * exposing queries and contributions on the wire.
 */
import { FedstatError } from '../errors.js';
import { ipAddressBytes, unbracket } from './names.js';

/**
 * Whether `host` is a loopback address: 127.0.0.0/8, ::1, IPv4-mapped ::ffff:127.x.y.z, or the
 * name `localhost`. IPv6 literals may be bracketed. Wildcards (0.0.0.0, ::) are not loopback:
 * they listen on every interface.
 */
export function isLoopbackHost(host: string): boolean {
  const h = unbracket(host.trim()).toLowerCase();
  if (h === 'localhost') return true;
  const bytes = ipAddressBytes(h);
  if (bytes === null) return false;
  if (bytes.length === 4) return bytes[0] === 127;
  const zeros = (from: number, to: number): boolean => bytes.subarray(from, to).every((b) => b === 0);
  if (zeros(0, 15) && bytes[15] === 1) return true; // ::1
  return zeros(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff && bytes[12] === 127; // ::ffff:127.0.0.0/104
}

/**
 * Throws CONFIG_INVALID unless plain TCP to or on `host` is acceptable (a loopback address).
 * `what` names the listener or link for the message, e.g. "agency server" or "link to agency cd-psb".
 */
export function assertInsecureAllowed(host: string, what: string): void {
  if (isLoopbackHost(host)) return;
  throw new FedstatError(
    'CONFIG_INVALID',
    `plain TCP (--insecure) is refused on non-loopback address ${host} for the ${what}; use the federation's TLS certificates (drop --insecure), or use 127.0.0.1 for a local test`,
    { details: { host } },
  );
}
