/**
 * Tree heads on disk, as `treeHeadToJson` JSON: what the log operator publishes beside the log
 * (`LOG.head.json`, the latest head, replaced atomically after each commit) and what an auditor
 * or agency keeps to check the next copy of the log against (`--since`). A file may hold one
 * head or an array of heads (heads collected from several agencies, to detect a fork).
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { FedstatError } from '../errors.js';
import { treeHeadFromJson, treeHeadToJson, type SignedTreeHead } from '../merkle/tree-head.js';

/** Where the log operator publishes the latest head of the log at `logFile`. */
export function treeHeadFileFor(logFile: string): string {
  return `${logFile}.head.json`;
}

/**
 * Reads the signed tree head(s) in `file` (one head or an array of heads; signatures are not
 * checked here). IO for an unreadable file, BAD_MESSAGE for one that holds no valid head JSON.
 */
export async function readTreeHeadFile(file: string): Promise<SignedTreeHead[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    throw new FedstatError(
      'IO',
      `cannot read tree head file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}; check the path`,
      { cause: e },
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new FedstatError(
      'BAD_MESSAGE',
      `${file} is not JSON; a tree head file holds the JSON the log operator published (logId, size, rootHash, timestamp, signature)`,
    );
  }
  const list: unknown[] = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0)
    throw new FedstatError('BAD_MESSAGE', `${file} holds no tree head; ask the log operator for its latest one`);
  return list.map((item, i) => {
    try {
      return treeHeadFromJson(item);
    } catch (e) {
      const where = Array.isArray(raw) ? ` (head ${i})` : '';
      throw e instanceof FedstatError ? new FedstatError(e.code, `${file}${where}: ${e.message}`, { cause: e }) : e;
    }
  });
}

/**
 * Writes `head` to `file` atomically (temporary file, fsync, rename), so a reader never sees a
 * half-written head and a crash leaves the previous one.
 */
export async function writeTreeHeadFile(file: string, head: SignedTreeHead): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  const h = await fs.open(tmp, 'w', 0o644);
  try {
    await h.writeFile(`${JSON.stringify(treeHeadToJson(head), null, 2)}\n`);
    await h.sync();
  } finally {
    await h.close();
  }
  await fs.rename(tmp, file);
}
