/**
 * Host names and addresses as certificates hold them: a party id is a single DNS label (the TLS
 * peer name fedstat checks), a host is either an IP address (subjectAltName iPAddress, raw bytes)
 * or a DNS name (dNSName, lowercase LDH labels).
 */
import { isIP } from 'node:net';

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Whether `id` is one lowercase DNS label (RFC 1123 LDH: letters, digits and inner dashes, at most
 * 63 characters). Party ids must be, since they are the name a party's certificate is checked against.
 */
export function isDnsLabel(id: string): boolean {
  return LABEL.test(id);
}

/** The longest DNS label (RFC 1035 §2.3.4), and so the longest party id. */
export const MAX_LABEL_LENGTH = 63;

/**
 * Why `id` is not one lowercase DNS label, as a phrase that completes "id … ", or null when it
 * is one. Names the first rule broken: length (1 to 63), characters (a-z, 0-9, '-'), dashes inside.
 */
export function dnsLabelProblem(id: string): string | null {
  if (id.length === 0) return 'is empty';
  if (id.length > MAX_LABEL_LENGTH) return `has ${id.length} characters, more than ${MAX_LABEL_LENGTH}`;
  const bad = /[^a-z0-9-]/u.exec(id)?.[0];
  if (bad !== undefined)
    return /[A-Z]/.test(bad)
      ? 'has uppercase letters'
      : `has ${JSON.stringify(bad)}, which is not a lowercase letter, digit or dash`;
  if (id.startsWith('-') || id.endsWith('-')) return 'may not begin or end with a dash';
  return null;
}

/** Whether `name` is a DNS host name of lowercase LDH labels (no wildcards, no trailing dot). */
export function isDnsName(name: string): boolean {
  return name.length <= 253 && name.split('.').every((l) => LABEL.test(l));
}

/** `host` without the brackets of a URL-style IPv6 literal ("[::1]" → "::1"). */
export function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function ipv4Bytes(text: string): Uint8Array {
  return Uint8Array.from(text.split('.').map(Number));
}

function ipv6Bytes(text: string): Uint8Array {
  const out = new Uint8Array(16);
  let s = text;
  const lastColon = s.lastIndexOf(':');
  const tail = s.slice(lastColon + 1);
  let v4: Uint8Array | null = null;
  if (tail.includes('.')) {
    // an embedded IPv4 address (::ffff:127.0.0.1) fills the last 32 bits
    v4 = ipv4Bytes(tail);
    s = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const halves = s.split('::');
  const words = (part: string | undefined): number[] =>
    part === undefined || part === '' ? [] : part.split(':').map((w) => parseInt(w, 16));
  const head = words(halves[0]);
  const rest = words(halves[1]);
  const all =
    halves.length === 2 ? [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest] : head;
  all.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  if (v4 !== null) out.set(v4, 12);
  return out;
}

/**
 * The bytes of an IP address literal (4 for IPv4, 16 for IPv6; brackets allowed), or null when
 * `text` is not one. Zone ids ("fe80::1%eth0") are refused: they mean nothing off this host.
 */
export function ipAddressBytes(text: string): Uint8Array | null {
  const t = unbracket(text);
  if (t.includes('%')) return null;
  const family = isIP(t);
  if (family === 4) return ipv4Bytes(t);
  if (family === 6) return ipv6Bytes(t);
  return null;
}
