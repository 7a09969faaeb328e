/**
 * Prevalidation of SEAL's serialization header, before a byte reaches SEAL.
 *
 * Layout (SEAL 4.x `Serialization::SEALHeader`, native/src/seal/serialization.h), 16 bytes,
 * little-endian:
 *   0  u16 magic 0xA15E          4  u8 version minor         8  u64 size of the whole object,
 *   2  u8  header size (16)      5  u8 compr_mode_type           header included
 *   3  u8  version major         6  u16 reserved (0)
 * SEAL itself only accepts the exact major.minor it was built as, and when a header is invalid
 * it tries to reinterpret it as a SEAL 3.4 header; checking here first keeps both paths shut.
 */
import { FedstatError } from '../errors.js';

const SEAL_MAGIC = 0xa15e;
export const SEAL_HEADER_SIZE = 16;
/** The SEAL version node-seal 7 is built from and writes into every header. */
const SEAL_VERSION_MAJOR = 4;
const SEAL_VERSION_MINOR = 1;

/** SEAL's `compr_mode_type`. */
export const ComprMode = Object.freeze({ none: 0, zlib: 1, zstd: 2 } as const);
export type ComprMode = (typeof ComprMode)[keyof typeof ComprMode];

/** The parsed fields of a valid header. */
export interface SealHeader {
  readonly versionMajor: number;
  readonly versionMinor: number;
  readonly comprMode: ComprMode;
  /** Declared size of the whole serialized object, header included (equals the buffer length). */
  readonly size: number;
}

function bad(problem: string): FedstatError {
  return new FedstatError(
    'BAD_MESSAGE',
    `malformed SEAL object: ${problem}; the sender must send bytes saved by SEAL ${SEAL_VERSION_MAJOR}.${SEAL_VERSION_MINOR} under this federation's parameters`,
  );
}

/**
 * Parses and checks the header of `bytes` at `offset` against a buffer of `available` bytes.
 * Exported for nested headers (a ciphertext's coefficient array carries its own).
 */
export function parseSealHeader(
  bytes: Uint8Array,
  offset: number,
  available: number,
  allowed: readonly ComprMode[],
): SealHeader {
  if (available < SEAL_HEADER_SIZE) throw bad(`${available} bytes cannot hold the ${SEAL_HEADER_SIZE}-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, SEAL_HEADER_SIZE);
  if (view.getUint16(0, true) !== SEAL_MAGIC) throw bad('the SEAL magic number is missing');
  if (view.getUint8(2) !== SEAL_HEADER_SIZE) throw bad('the header size field is wrong');
  const versionMajor = view.getUint8(3);
  const versionMinor = view.getUint8(4);
  if (versionMajor !== SEAL_VERSION_MAJOR || versionMinor !== SEAL_VERSION_MINOR) {
    throw bad(`SEAL version ${versionMajor}.${versionMinor} is not supported`);
  }
  const mode = view.getUint8(5);
  if (!(allowed as readonly number[]).includes(mode)) throw bad(`compression mode ${mode} is not allowed here`);
  if (view.getUint16(6, true) !== 0) throw bad('the reserved header bytes are not zero');
  const size = view.getBigUint64(8, true);
  if (size !== BigInt(available)) throw bad(`the header declares ${size} bytes but ${available} arrived`);
  return { versionMajor, versionMinor, comprMode: mode as ComprMode, size: available };
}

/**
 * Checks the SEAL header of a serialized object before it is loaded: magic, header size,
 * SEAL version 4.1, a compression mode in `allowed` (default: uncompressed only, so no
 * decompression bomb can reach SEAL), reserved bytes zero, and a declared size equal to the
 * buffer length. MESSAGE_TOO_LARGE when the buffer exceeds `maxBytes`, BAD_MESSAGE otherwise.
 * Messages never echo the bytes.
 */
export function checkSealHeader(
  bytes: Uint8Array,
  maxBytes: number,
  allowed: readonly ComprMode[] = [ComprMode.none],
): SealHeader {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('checkSealHeader: bytes must be a Uint8Array');
  if (!Number.isSafeInteger(maxBytes) || maxBytes < SEAL_HEADER_SIZE) {
    throw new RangeError(`checkSealHeader: maxBytes must be an integer ≥ ${SEAL_HEADER_SIZE}`);
  }
  if (bytes.length > maxBytes) {
    throw new FedstatError(
      'MESSAGE_TOO_LARGE',
      `SEAL object of ${bytes.length} bytes exceeds the limit of ${maxBytes} bytes; the sender must use this federation's parameters`,
    );
  }
  return parseSealHeader(bytes, 0, bytes.length, allowed);
}
