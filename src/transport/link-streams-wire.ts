/**
 * The streamed record-linkage messages: LinkEncrypt (positions in, ciphertexts out) and LinkLoad
 * (positions and ciphertexts in). A sender splits a request or answer into a header and bounded
 * parts (≤ 1 MiB of positions, one ciphertext); a receiver feeds the parts as they arrive to an
 * assembler that checks the order (header first, positions before ciphertexts), every part's size
 * and the running totals against the header's declared counts, and only at the end builds the
 * protocol value. Declared counts are capped and compared, never used to allocate: storage grows
 * with what actually arrived.
 */
import { MAX_POSITION_BLOCKS } from '../he/position-blocks.js';
import {
  MAX_LINK_ELEMENTS,
  type LinkEncryptAnswer,
  type LinkEncryptRequest,
  type LinkLoadRequest,
} from '../protocol/link-messages.js';
import type { SignedQuery } from '../protocol/query-envelope.js';
import { LINK_POSITIONS_PER_PART, MAX_CIPHERTEXT_BYTES, MAX_LINK_CIPHERTEXTS } from './limits.js';
import {
  answerIdsFromWire,
  badLink,
  logEntriesFromWire,
  signedQueryFromWire,
  wireBytes,
  wireCount,
} from './link-messages-wire.js';
import type {
  LinkEncryptAnswerHeaderMessage,
  LinkEncryptAnswerPartMessage,
  LinkEncryptPartMessage,
  LinkLoadPartMessage,
} from './proto.js';

const UINT32_MAX = 0xffff_ffff;
const SIGNATURE_BYTES = 64;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Positions as little-endian parts of at most LINK_POSITIONS_PER_PART (views on little-endian hosts). */
function positionParts(positions: Uint32Array): Uint8Array[] {
  if (!(positions instanceof Uint32Array)) throw new TypeError('linkage: positions must be a Uint32Array');
  if (positions.length > MAX_LINK_ELEMENTS) throw new RangeError(`linkage: at most ${MAX_LINK_ELEMENTS} positions`);
  const parts: Uint8Array[] = [];
  for (let at = 0; at < positions.length; at += LINK_POSITIONS_PER_PART) {
    const slice = positions.subarray(at, Math.min(positions.length, at + LINK_POSITIONS_PER_PART));
    if (LITTLE_ENDIAN) parts.push(new Uint8Array(slice.buffer, slice.byteOffset, slice.byteLength));
    else {
      const out = new Uint8Array(slice.length * 4);
      const view = new DataView(out.buffer);
      slice.forEach((p, i) => view.setUint32(i * 4, p, true));
      parts.push(out);
    }
  }
  return parts;
}

/** Receives position parts up to a declared count; each position must be below `positionCount`. */
class PositionCollector {
  private readonly parts: Uint8Array[] = [];
  private received = 0;

  constructor(
    private readonly declared: number,
    private readonly positionCount: number,
    private readonly peer: string,
  ) {}

  get complete(): boolean {
    return this.received === this.declared;
  }

  add(v: unknown): void {
    const b = wireBytes(v, this.peer, 'positions part');
    if (b.length === 0 || b.length % 4 !== 0)
      throw badLink(this.peer, 'positions part is empty or truncated (not a multiple of 4 bytes)');
    if (b.length > LINK_POSITIONS_PER_PART * 4)
      throw badLink(this.peer, `positions part has more than ${LINK_POSITIONS_PER_PART} positions`);
    if (this.received + b.length / 4 > this.declared) throw badLink(this.peer, 'positions exceed the declared count');
    this.received += b.length / 4;
    this.parts.push(b);
  }

  finish(): Uint32Array {
    if (!this.complete) throw badLink(this.peer, 'positions fall short of the declared count');
    const out = new Uint32Array(this.declared);
    const bytes = new Uint8Array(out.buffer);
    let at = 0;
    for (const p of this.parts) {
      bytes.set(p, at);
      at += p.length;
    }
    if (!LITTLE_ENDIAN) {
      const view = new DataView(out.buffer);
      for (let i = 0; i < out.length; i++) out[i] = view.getUint32(i * 4, true);
    }
    for (let i = 0; i < out.length; i++)
      if ((out[i] ?? 0) >= this.positionCount) throw badLink(this.peer, 'position is not below the position count');
    this.parts.length = 0;
    return out;
  }
}

/** Receives ciphertext parts up to a declared count, each non-empty and at most MAX_CIPHERTEXT_BYTES. */
class CiphertextCollector {
  readonly ciphertexts: Uint8Array[] = [];

  constructor(
    private readonly declared: number,
    private readonly peer: string,
  ) {}

  add(v: unknown): void {
    const b = wireBytes(v, this.peer, 'ciphertext');
    if (b.length === 0 || b.length > MAX_CIPHERTEXT_BYTES)
      throw badLink(this.peer, `ciphertext is empty or over ${MAX_CIPHERTEXT_BYTES} bytes`);
    if (this.ciphertexts.length >= this.declared) throw badLink(this.peer, 'ciphertexts exceed components × blocks');
    this.ciphertexts.push(b);
  }

  finish(): Uint8Array[] {
    if (this.ciphertexts.length !== this.declared)
      throw badLink(this.peer, 'ciphertexts fall short of components × blocks');
    return this.ciphertexts;
  }
}

/** BAD_MESSAGE unless exactly one field of the part's oneof is set (protobufjs keeps every one it decoded). */
function onePart(m: object, peer: string): void {
  const set = Object.values(m).filter((v) => v !== undefined && v !== null).length;
  if (set !== 1) throw badLink(peer, 'stream part sets no field or more than one');
}

/** components and blocks of a header: blocks 1…MAX_POSITION_BLOCKS, components ≥ 1, product ≤ MAX_LINK_CIPHERTEXTS. */
function shape(components: unknown, blocks: unknown, peer: string): { components: number; blocks: number } {
  const c = wireCount(components, MAX_LINK_CIPHERTEXTS, peer, 'component count');
  const b = wireCount(blocks, MAX_POSITION_BLOCKS, peer, 'block count');
  if (c < 1 || b < 1 || c * b > MAX_LINK_CIPHERTEXTS)
    throw badLink(peer, `components × blocks is not from 1 to ${MAX_LINK_CIPHERTEXTS}`);
  return { components: c, blocks: b };
}

function checkShape(components: number, blocks: number, count: number): void {
  if (!Number.isSafeInteger(components) || !Number.isSafeInteger(blocks) || components < 1 || blocks < 1)
    throw new RangeError('linkage: components and blocks must be positive integers');
  if (blocks > MAX_POSITION_BLOCKS || components * blocks > MAX_LINK_CIPHERTEXTS)
    throw new RangeError(`linkage: at most ${MAX_POSITION_BLOCKS} blocks and ${MAX_LINK_CIPHERTEXTS} ciphertexts`);
  if (count !== components * blocks) throw new RangeError('linkage: ciphertexts must number components × blocks');
}

function checkPositionCount(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0 || n > UINT32_MAX)
    throw new RangeError('linkage: positionCount must be an integer from 0 to 2^32 − 1');
}

/** The coordinator's LinkEncrypt stream: the header, then the positions in parts. */
export function encryptRequestParts(r: LinkEncryptRequest): LinkEncryptPartMessage[] {
  checkPositionCount(r.positionCount);
  const parts = positionParts(r.positions);
  const header = {
    query: r.query.bytes,
    signature: r.query.signature,
    positionCount: r.positionCount,
    positions: r.positions.length,
  };
  return [{ header }, ...parts.map((positions) => ({ positions }))];
}

/** The agency's side of LinkEncrypt's request stream. */
export class EncryptRequestAssembler {
  private query: SignedQuery | null = null;
  private positionCount = 0;
  private positions: PositionCollector | null = null;

  constructor(private readonly peer: string) {}

  add(m: LinkEncryptPartMessage): void {
    onePart(m, this.peer);
    if (m.header !== undefined && m.header !== null) {
      if (this.query !== null) throw badLink(this.peer, 'stream has a second header');
      const h = m.header;
      this.query = signedQueryFromWire(h.query, h.signature, this.peer);
      this.positionCount = wireCount(h.positionCount, UINT32_MAX, this.peer, 'position count');
      const declared = wireCount(h.positions, MAX_LINK_ELEMENTS, this.peer, 'positions count');
      this.positions = new PositionCollector(declared, this.positionCount, this.peer);
    } else if (m.positions !== undefined && m.positions !== null) {
      if (this.positions === null) throw badLink(this.peer, 'stream does not start with its header');
      this.positions.add(m.positions);
    } else throw badLink(this.peer, 'stream part is empty');
  }

  finish(): LinkEncryptRequest {
    if (this.query === null || this.positions === null) throw badLink(this.peer, 'stream has no header');
    return { query: this.query, positionCount: this.positionCount, positions: this.positions.finish() };
  }
}

/** The agency's LinkEncrypt answer stream: the header, then one ciphertext per message. */
export function encryptAnswerParts(a: LinkEncryptAnswer): LinkEncryptAnswerPartMessage[] {
  checkShape(a.components, a.blocks, a.ciphertexts.length);
  const header: LinkEncryptAnswerHeaderMessage = {
    agencyId: a.agencyId,
    queryId: a.queryId,
    components: a.components,
    blocks: a.blocks,
    logEntries: [...a.logEntries],
    signature: a.signature,
  };
  return [{ header }, ...a.ciphertexts.map((ciphertext) => ({ ciphertext }))];
}

/** The coordinator's side of LinkEncrypt's answer stream. */
export class EncryptAnswerAssembler {
  private header: Omit<LinkEncryptAnswer, 'ciphertexts'> | null = null;
  private ciphertexts: CiphertextCollector | null = null;

  constructor(private readonly peer: string) {}

  add(m: LinkEncryptAnswerPartMessage): void {
    onePart(m, this.peer);
    if (m.header !== undefined && m.header !== null) {
      if (this.header !== null) throw badLink(this.peer, 'answer has a second header');
      const h = m.header;
      const { components, blocks } = shape(h.components, h.blocks, this.peer);
      const signature = wireBytes(h.signature, this.peer, 'signature');
      if (signature.length !== SIGNATURE_BYTES) throw badLink(this.peer, `signature is not ${SIGNATURE_BYTES} bytes`);
      this.header = {
        ...answerIdsFromWire(h.agencyId, h.queryId, this.peer),
        components,
        blocks,
        logEntries: logEntriesFromWire(h.logEntries, this.peer),
        signature: Uint8Array.from(signature),
      };
      this.ciphertexts = new CiphertextCollector(components * blocks, this.peer);
    } else if (m.ciphertext !== undefined && m.ciphertext !== null) {
      if (this.ciphertexts === null) throw badLink(this.peer, 'answer does not start with its header');
      this.ciphertexts.add(m.ciphertext);
    } else throw badLink(this.peer, 'answer part is empty');
  }

  finish(): LinkEncryptAnswer {
    if (this.header === null || this.ciphertexts === null) throw badLink(this.peer, 'answer has no header');
    return { ...this.header, ciphertexts: this.ciphertexts.finish() };
  }
}

/** The coordinator's LinkLoad stream: the header, the positions in parts, then one ciphertext per message. */
export function loadRequestParts(r: LinkLoadRequest): LinkLoadPartMessage[] {
  checkPositionCount(r.positionCount);
  checkShape(r.components, r.blocks, r.ciphertexts.length);
  const header = {
    query: r.query.bytes,
    signature: r.query.signature,
    positionCount: r.positionCount,
    positions: r.positions.length,
    components: r.components,
    blocks: r.blocks,
  };
  return [
    { header },
    ...positionParts(r.positions).map((positions) => ({ positions })),
    ...r.ciphertexts.map((ciphertext) => ({ ciphertext })),
  ];
}

/** The agency's side of LinkLoad's request stream. */
export class LoadRequestAssembler {
  private header: Omit<LinkLoadRequest, 'positions' | 'ciphertexts'> | null = null;
  private positions: PositionCollector | null = null;
  private ciphertexts: CiphertextCollector | null = null;

  constructor(private readonly peer: string) {}

  add(m: LinkLoadPartMessage): void {
    onePart(m, this.peer);
    if (m.header !== undefined && m.header !== null) {
      if (this.header !== null) throw badLink(this.peer, 'stream has a second header');
      const h = m.header;
      const positionCount = wireCount(h.positionCount, UINT32_MAX, this.peer, 'position count');
      const declared = wireCount(h.positions, MAX_LINK_ELEMENTS, this.peer, 'positions count');
      const { components, blocks } = shape(h.components, h.blocks, this.peer);
      this.header = { query: signedQueryFromWire(h.query, h.signature, this.peer), positionCount, components, blocks };
      this.positions = new PositionCollector(declared, positionCount, this.peer);
      this.ciphertexts = new CiphertextCollector(components * blocks, this.peer);
    } else if (m.positions !== undefined && m.positions !== null) {
      if (this.positions === null || this.ciphertexts === null)
        throw badLink(this.peer, 'stream does not start with its header');
      if (this.ciphertexts.ciphertexts.length > 0) throw badLink(this.peer, 'positions follow ciphertexts');
      this.positions.add(m.positions);
    } else if (m.ciphertext !== undefined && m.ciphertext !== null) {
      if (this.positions === null || this.ciphertexts === null)
        throw badLink(this.peer, 'stream does not start with its header');
      if (!this.positions.complete) throw badLink(this.peer, 'ciphertexts start before every position arrived');
      this.ciphertexts.add(m.ciphertext);
    } else throw badLink(this.peer, 'stream part is empty');
  }

  finish(): LinkLoadRequest {
    if (this.header === null || this.positions === null || this.ciphertexts === null)
      throw badLink(this.peer, 'stream has no header');
    return { ...this.header, positions: this.positions.finish(), ciphertexts: this.ciphertexts.finish() };
  }
}
