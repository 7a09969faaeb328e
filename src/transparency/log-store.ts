/**
 * The log operator's crash-safe, append-only store of transparency log entries: record i of the
 * file is leaf i of the Merkle tree, and every append is answered with a signed tree head that
 * covers it.
 *
 * Durability (the budget ledger's argument, src/dp/budget-ledger.ts):
 * 1. `append` resolves only after the record was written and fsync returned; nobody may act on
 *    an entry (or hand out its tree head) before that.
 * 2. A crash can therefore only tear records that were never acknowledged: `open` cuts a torn
 *    tail (see log-scan.ts) and the log verifies up to the last complete record.
 * 3. A complete record that fails its checksum is corruption, never cut: `open` refuses the
 *    file, naming the record, because cutting it would rewrite a history heads were signed for.
 * 4. A failed write is rolled back (truncate + fsync) and its appends rejected; if the rollback
 *    fails too, the store refuses further appends until reopened.
 * 5. The published head never shrinks. The operator publishes its head beside the log
 *    (`LOG.head.json`, log-sink.ts) only after the entries it covers are fsynced, so a log that
 *    does not extend that head lost published history (a file cut by hand, deleted, restored from
 *    an old copy, or rewritten): `open` verifies the head file's signature and log id, that the
 *    file holds at least its size in complete records and that those records have its root, and
 *    otherwise refuses the log without touching it. A torn tail is cut only beyond the head.
 *
 * Concurrency: appends in one process queue up; each flush writes every pending record in one
 * write and one fsync (group commit) and signs one tree head for the batch. Across processes the
 * lock file allows one writer.
 *
 * Memory: 40 bytes per entry (its leaf hash and file offset) for proofs and random access, plus
 * a SubtreeCache that makes proofs O(log n). Offline verification does not use the store: it
 * streams the file (log-verify.ts).
 */
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { FedstatError } from '../errors.js';
import { consistencyProof } from '../merkle/consistency-proof.js';
import { inclusionProof } from '../merkle/inclusion-proof.js';
import { acquireFileLock } from '../util/file-lock.js';
import { syncDir, writeAll } from '../util/durable-file.js';
import { GroupCommit } from '../util/group-commit.js';
import {
  LOG_MAGIC,
  MAX_ENTRY_BYTES,
  readRecordLength,
  recordBytes,
  RECORD_HEADER_BYTES,
  writeRecord,
} from './log-record.js';
import { hasLogHeader, LogCorruptError, scanRecords, type ScannedRecord } from './log-scan.js';
import { MerkleAccumulator } from '../merkle/merkle-accumulator.js';
import { hashEquals, hashLeaf, HASH_BYTES } from '../merkle/merkle-hash.js';
import { SubtreeCache, subtreeRoot } from '../merkle/merkle-subtree.js';
import { readTreeHeadFile, treeHeadFileFor } from './tree-head-file.js';
import { signTreeHead, verifyTreeHead, type SignedTreeHead } from '../merkle/tree-head.js';

export interface LogStoreOptions {
  /** The federation id: every tree head names it. */
  readonly logId: string;
  /** The log operator's 64-byte Ed25519 secret key (seed ‖ public key) that signs tree heads. */
  readonly secretKey: Uint8Array;
  /** Clock for tree-head timestamps (ms since the epoch); defaults to Date.now. */
  readonly now?: () => number;
}

/** An acknowledged (durable) append. */
export interface AppendResult {
  /** The entry's leaf index. */
  readonly index: number;
  /** A signed head whose tree includes the entry (shared by the entries of one group commit). */
  readonly treeHead: SignedTreeHead;
}

/** What `open` found and repaired. */
export interface OpenReport {
  /** Bytes of a torn final record cut off (0 for a clean file); always beyond the published head. */
  readonly tornBytesCut: number;
  /** The head published beside the log (`LOG.head.json`) that the log was checked against, if any. */
  readonly publishedHead: SignedTreeHead | null;
}

interface Replayed {
  readonly hashes: Buffer;
  readonly offsets: Float64Array;
  readonly size: number;
  readonly fileSize: number;
  readonly acc: MerkleAccumulator;
  readonly torn: number;
}

interface Pending {
  readonly entry: Uint8Array;
  readonly resolve: (r: AppendResult) => void;
  readonly reject: (e: Error) => void;
}

const errno = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? String(e);

export class TransparencyLogStore {
  readonly file: string;
  readonly logId: string;
  /** What `open` repaired. */
  readonly opened: OpenReport;
  readonly #secretKey: Uint8Array;
  readonly #now: () => number;
  readonly #handle: FileHandle;
  readonly #unlock: () => Promise<void>;
  readonly #acc: MerkleAccumulator;
  readonly #cache = new SubtreeCache(8);
  #hashes: Buffer; // leaf hashes, 32 bytes each, capacity-doubling
  #offsets: Float64Array; // record offsets in the file
  #size: number;
  #fileSize: number;
  #head: SignedTreeHead | null = null;
  readonly #queue: GroupCommit<Pending>;
  #broken: FedstatError | null = null;
  #closed = false;

  private constructor(
    file: string,
    options: LogStoreOptions,
    handle: FileHandle,
    unlock: () => Promise<void>,
    state: Replayed,
    published: SignedTreeHead | null,
  ) {
    this.file = file;
    this.#queue = new GroupCommit((batch) => this.#commit(batch), `transparency log ${file}`);
    this.logId = options.logId;
    this.#secretKey = Uint8Array.from(options.secretKey);
    this.#now = options.now ?? Date.now;
    this.#handle = handle;
    this.#unlock = unlock;
    this.#hashes = state.hashes;
    this.#offsets = state.offsets;
    this.#size = state.size;
    this.#fileSize = state.fileSize;
    this.#acc = state.acc;
    // The published head is this log's latest signed head (its root was checked): answering with
    // it keeps heads of one size identical, and its timestamp is the floor for later ones.
    this.#head = published;
    this.opened = Object.freeze({ tornBytesCut: state.torn, publishedHead: published });
  }

  /**
   * Opens (or creates, mode 0600) the log at `file`, takes `<file>.lock`, verifies every record
   * against its checksum and the log against the head published beside it (`LOG.head.json`, if
   * present), and cuts a torn tail beyond that head. Throws FedstatError IO for a locked,
   * unreadable or corrupt log (the message names the corrupt record's index), for a log that does
   * not extend its published head (missing, shorter, or other entries under its root: nothing is
   * cut or created then) and for a head file that is not this operator's head of this log;
   * CONFIG_INVALID for a head of another log id (the federation file changed, or another
   * federation's log); BAD_MESSAGE for a head file that holds no head; RangeError for bad options.
   */
  static async open(file: string, options: LogStoreOptions): Promise<TransparencyLogStore> {
    // Fail on bad options before touching the disk (signing an empty head checks logId and key).
    signTreeHead(
      { logId: options.logId, size: 0, rootHash: new Uint8Array(HASH_BYTES), timestamp: 0 },
      options.secretKey,
    );
    const unlock = await acquireFileLock(`${file}.lock`, 'transparency log');
    let handle: FileHandle | null = null;
    try {
      const published = await publishedHead(file, options);
      const existed = await fs.stat(file).then(
        (s) => s,
        () => null,
      );
      if (existed === null && published !== null && published.size > 0)
        throw historyLost(file, published, 0, 'is missing');
      if (existed !== null && (existed.mode & 0o077) !== 0) {
        throw new FedstatError(
          'IO',
          `transparency log ${file} is accessible to other users (mode ${(existed.mode & 0o777).toString(8)}); run chmod 600 on it`,
        );
      }
      handle = await fs.open(file, 'a+', 0o600);
      const state = await TransparencyLogStore.#replay(file, handle, published);
      if (existed === null) await syncDir(file);
      return new TransparencyLogStore(file, options, handle, unlock, state, published);
    } catch (e) {
      await handle?.close();
      await unlock();
      if (e instanceof FedstatError) throw e;
      throw new FedstatError(
        'IO',
        `cannot open transparency log ${file}: ${errno(e)}; check the path and its permissions`,
        { cause: e },
      );
    }
  }

  static async #replay(file: string, h: FileHandle, published: SignedTreeHead | null): Promise<Replayed> {
    const mustHave = published?.size ?? 0;
    const length = (await h.stat()).size;
    if (length < LOG_MAGIC.length) {
      // New file, or a crash while the header was written: only a prefix of the header may be there.
      const head = Buffer.alloc(length);
      await h.read(head, 0, length, 0);
      if (!head.equals(LOG_MAGIC.subarray(0, length)))
        throw new FedstatError('IO', `${file} is not a fedstat transparency log (bad header); check the path`);
      if (mustHave > 0) throw historyLost(file, published!, 0, 'has no entries');
      await h.truncate(0);
      await writeAll(h, LOG_MAGIC);
      await h.sync();
      return {
        hashes: Buffer.alloc(1024 * HASH_BYTES),
        offsets: new Float64Array(1024),
        size: 0,
        fileSize: LOG_MAGIC.length,
        acc: new MerkleAccumulator(),
        torn: 0,
      };
    }
    if (!(await hasLogHeader(h)))
      throw new FedstatError('IO', `${file} is not a fedstat transparency log (bad header); check the path`);
    let hashes: Buffer = Buffer.alloc(1024 * HASH_BYTES);
    let offsets: Float64Array = new Float64Array(1024);
    const acc = new MerkleAccumulator();
    const checkPublishedRoot = (): void => {
      if (published !== null && acc.size === published.size && !hashEquals(acc.root(), published.rootHash)) {
        throw new FedstatError(
          'IO',
          `transparency log ${file}: its first ${published.size} entries do not have the root its published tree head (${treeHeadFileFor(file)}) signed: published history was rewritten; restore the log from a backup that extends that head (agencies holding the head refuse any other log)`,
          { details: { file, headFile: treeHeadFileFor(file), publishedSize: published.size } },
        );
      }
    };
    checkPublishedRoot();
    const scan = scanRecords(h);
    let step: IteratorResult<ScannedRecord, { size: number; end: number; tornBytes: number }>;
    try {
      for (step = await scan.next(); step.done !== true; step = await scan.next()) {
        const { index, offset, leafHash } = step.value;
        if (index === offsets.length) [hashes, offsets] = grow(hashes, offsets);
        hashes.set(leafHash, index * HASH_BYTES);
        offsets[index] = offset;
        acc.append(leafHash);
        checkPublishedRoot();
      }
    } catch (e) {
      if (e instanceof LogCorruptError) throw corrupt(file, e);
      throw e;
    }
    const { size, end, tornBytes } = step.value;
    // A torn record the published head covers was acknowledged: the log lost it, a crash did not.
    if (size < mustHave)
      throw historyLost(
        file,
        published!,
        size,
        tornBytes > 0 ? `has ${size} complete entries and ${tornBytes} bytes of a torn one` : `has ${size} entries`,
      );
    if (tornBytes > 0) {
      await h.truncate(end);
      await h.sync();
    }
    return { hashes, offsets, size, fileSize: end, acc, torn: tornBytes };
  }

  /** Entries in the log (acknowledged ones, and any that survived a crash complete). */
  get size(): number {
    return this.#size;
  }

  /** Leaf hash of entry `index` (a copy). RangeError past the end. */
  leafHash(index: number): Uint8Array {
    this.#checkIndex(index);
    return Uint8Array.from(this.#hashes.subarray(index * HASH_BYTES, (index + 1) * HASH_BYTES));
  }

  /**
   * The index of the entry whose leaf hash is `leafHash`, or −1 when there is none (the latest
   * one when an entry occurs more than once). Scans the leaf hashes held in memory from the newest
   * back: O(distance from the end), no I/O, no extra memory. TypeError for a non-Uint8Array.
   */
  indexOf(leafHash: Uint8Array): number {
    if (!(leafHash instanceof Uint8Array)) throw new TypeError('a leaf hash is a Uint8Array');
    if (leafHash.length !== HASH_BYTES) return -1;
    const hashes = this.#hashes;
    const first = Buffer.from(leafHash.buffer, leafHash.byteOffset, HASH_BYTES).readUInt32LE(0);
    for (let i = this.#size - 1, off = i * HASH_BYTES; i >= 0; i--, off -= HASH_BYTES) {
      if (hashes.readUInt32LE(off) === first && hashes.compare(leafHash, 0, HASH_BYTES, off, off + HASH_BYTES) === 0)
        return i;
    }
    return -1;
  }

  /** Reads entry `index` from disk and checks it against its leaf hash (IO error if it changed). */
  async entry(index: number): Promise<Uint8Array> {
    this.#checkIndex(index);
    const offset = this.#offsets[index]!;
    const header = Buffer.alloc(RECORD_HEADER_BYTES);
    await this.#handle.read(header, 0, header.length, offset);
    const len = readRecordLength(header, 0);
    const body = Buffer.alloc(len ?? 0);
    if (len !== null) await this.#handle.read(body, 0, len, offset + RECORD_HEADER_BYTES);
    const entry = new Uint8Array(body.buffer, body.byteOffset, body.length);
    if (len === null || !hashEquals(hashLeaf(entry), this.leafHash(index))) {
      throw corrupt(
        this.file,
        new LogCorruptError(index, offset, 'the record changed on disk after the log was opened'),
      );
    }
    return entry;
  }

  /** Streams entries [from, to) from disk, verified against their stored hashes. */
  async *entries(from = 0, to = this.#size): AsyncGenerator<{ index: number; entry: Uint8Array }> {
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || to > this.#size || from > to)
      throw new RangeError(`[${from}, ${to}) is not a range of entries`);
    if (from === to) return;
    try {
      for await (const r of scanRecords(this.#handle, this.#offsets[from], from, to - from)) {
        if (!hashEquals(r.leafHash, this.#hashes.subarray(r.index * HASH_BYTES, (r.index + 1) * HASH_BYTES))) {
          throw new LogCorruptError(r.index, r.offset, 'the record changed on disk after the log was opened');
        }
        yield { index: r.index, entry: r.entry };
      }
    } catch (e) {
      if (e instanceof LogCorruptError) throw corrupt(this.file, e);
      throw e;
    }
  }

  /** RFC 9162 root of the first `size` entries (default: all). */
  root(size = this.#size): Uint8Array {
    if (size === this.#size) return this.#acc.root();
    this.#checkSize(size);
    return subtreeRoot(this.#source, 0, size, this.#cache);
  }

  /** A signed head over the current log (re-signed only when the size changed). */
  treeHead(): SignedTreeHead {
    if (this.#head?.size !== this.#size) this.#head = this.#sign();
    return this.#head;
  }

  /** Inclusion proof of entry `index` in the tree of `size` entries (default: all). */
  inclusionProof(index: number, size = this.#size): Uint8Array[] {
    this.#checkSize(size);
    return inclusionProof(index, size, this.#source, this.#cache).map((h) => h.slice());
  }

  /** Consistency proof from the tree of `first` entries to the tree of `second` (default: all). */
  consistencyProof(first: number, second = this.#size): Uint8Array[] {
    this.#checkSize(second);
    return consistencyProof(first, second, this.#source, this.#cache).map((h) => h.slice());
  }

  /**
   * Appends one entry; resolves once it is durable, with its index and a signed head covering
   * it. Rejects with MESSAGE_TOO_LARGE over 16 MiB, IO when the write fails (nothing is
   * appended then), UNAVAILABLE after `close`. TypeError for a non-Uint8Array entry.
   */
  append(entry: Uint8Array): Promise<AppendResult> {
    if (!(entry instanceof Uint8Array)) throw new TypeError('a log entry is a Uint8Array');
    return new Promise<AppendResult>((resolve, reject) => {
      if (entry.length > MAX_ENTRY_BYTES) {
        reject(
          new FedstatError(
            'MESSAGE_TOO_LARGE',
            `a log entry has at most ${MAX_ENTRY_BYTES} bytes, not ${entry.length}; log hashes of large data, not the data`,
          ),
        );
      } else if (this.#closed) {
        reject(new FedstatError('UNAVAILABLE', `transparency log ${this.file} is closed; open it again`));
      } else {
        this.#queue.push({ entry: Uint8Array.from(entry), resolve, reject });
      }
    });
  }

  /** Waits for queued appends to settle, closes the file and releases the lock. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue.drained();
    await this.#handle.close();
    await this.#unlock();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  readonly #source = (i: number): Uint8Array => {
    if (!Number.isSafeInteger(i) || i < 0 || i >= this.#size)
      throw new RangeError(`leaf ${i} is beyond the log's ${this.#size} entries`);
    return this.#hashes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES);
  };

  #checkIndex(index: number): void {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.#size)
      throw new RangeError(`entry ${index} is beyond the log's ${this.#size} entries`);
  }

  #checkSize(size: number): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.#size)
      throw new RangeError(`size ${size} is beyond the log's ${this.#size} entries`);
  }

  #sign(): SignedTreeHead {
    const last = this.#head?.timestamp ?? 0;
    const timestamp = Math.max(Math.floor(this.#now()), last); // never backwards within a run
    return signTreeHead(
      { logId: this.logId, size: this.#size, rootHash: this.#acc.root(), timestamp },
      this.#secretKey,
    );
  }

  async #commit(batch: Pending[]): Promise<void> {
    if (this.#broken !== null) {
      for (const p of batch) p.reject(this.#broken);
      return;
    }
    const bytes = Buffer.alloc(batch.reduce((n, p) => n + recordBytes(p.entry.length), 0));
    const leaves: Uint8Array[] = [];
    for (let off = 0, i = 0; i < batch.length; i++) {
      const { entry } = batch[i]!;
      leaves.push(writeRecord(bytes, off, entry));
      off += recordBytes(entry.length);
    }
    try {
      await writeAll(this.#handle, bytes);
      await this.#handle.sync();
    } catch (e) {
      const failed = new FedstatError(
        'IO',
        `writing transparency log ${this.file} failed (${errno(e)}); nothing was appended, fix the disk and retry`,
        { cause: e },
      );
      try {
        await this.#handle.truncate(this.#fileSize);
        await this.#handle.sync();
      } catch (e2) {
        this.#broken = new FedstatError(
          'IO',
          `transparency log ${this.file} is in an unknown state after a failed write; reopen it`,
          { cause: e2 },
        );
      }
      for (const p of batch) p.reject(failed);
      return;
    }
    const first = this.#size;
    let off = this.#fileSize;
    for (let i = 0; i < batch.length; i++) {
      const index = first + i;
      if (index === this.#offsets.length) [this.#hashes, this.#offsets] = grow(this.#hashes, this.#offsets);
      this.#hashes.set(leaves[i]!, index * HASH_BYTES);
      this.#offsets[index] = off;
      this.#acc.append(leaves[i]!);
      off += recordBytes(batch[i]!.entry.length);
    }
    this.#size += batch.length;
    this.#fileSize = off;
    const treeHead = this.treeHead();
    batch.forEach((p, i) => {
      p.resolve(Object.freeze({ index: first + i, treeHead }));
    });
  }
}

/**
 * The head the operator published beside `file`, checked to be its own signed head of this log
 * (several heads in the file: the largest), or null when none was published.
 */
async function publishedHead(file: string, options: LogStoreOptions): Promise<SignedTreeHead | null> {
  const headFile = treeHeadFileFor(file);
  const present = await fs.stat(headFile).then(
    () => true,
    (e: unknown) => {
      if (errno(e) === 'ENOENT') return false;
      throw new FedstatError(
        'IO',
        `cannot read the published tree head ${headFile}: ${errno(e)}; check its permissions`,
        { cause: e },
      );
    },
  );
  if (!present) return null;
  const heads = await readTreeHeadFile(headFile);
  const publicKey = options.secretKey.subarray(32, 64);
  for (const head of heads) {
    if (head.logId !== options.logId) {
      // The federation id is the hash of the federation file: an edited file, or another federation's log. Configuration.
      throw new FedstatError(
        'CONFIG_INVALID',
        `the published tree head ${headFile} names log ${head.logId}, not this federation's (${options.logId}): the federation file changed since this log was started, or the log belongs to another federation; use the federation.json this log was kept for (every party must hold the same one), or for a new federation operate a new log and keep this one, with its head, for the auditors`,
        { details: { file, headFile } },
      );
    }
    if (!verifyTreeHead(head, publicKey)) {
      throw new FedstatError(
        'IO',
        `the published tree head ${headFile} is not signed by this log operator's key: it was replaced or damaged; restore it from a backup (the signed head the agencies were shown) before appending to ${file}`,
        { details: { file, headFile } },
      );
    }
  }
  return heads.reduce((a, b) => (b.size > a.size ? b : a));
}

/** The refusal for a log that lost entries its published head covers. */
function historyLost(file: string, head: SignedTreeHead, size: number, found: string): FedstatError {
  const headFile = treeHeadFileFor(file);
  return new FedstatError(
    'IO',
    `transparency log ${file} ${found}, but its published tree head ${headFile} covers ${head.size} entries: published history was lost and will not be rewritten; restore the log from a backup with at least ${head.size} entries (deleting the head file does not help: agencies holding that head refuse a shorter or rewritten log)`,
    { details: { file, headFile, publishedSize: head.size, size } },
  );
}

function grow(hashes: Buffer, offsets: Float64Array): [Buffer, Float64Array] {
  const h = Buffer.alloc(hashes.length * 2);
  hashes.copy(h);
  const o = new Float64Array(offsets.length * 2);
  o.set(offsets);
  return [h, o];
}

/** @internal The FedstatError for a damaged record: names it, and says never to cut it by hand. */
function corrupt(file: string, e: LogCorruptError): FedstatError {
  return new FedstatError(
    'IO',
    `transparency log ${file} is corrupt at ${e.message}; restore it from a backup or another copy (never cut it by hand: that rewrites a history tree heads were signed for)`,
    { cause: e, details: { file, record: e.index, offset: e.offset } },
  );
}
