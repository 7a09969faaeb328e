/**
 * The file under a training checkpoint (GLM fits, train-checkpoint.ts; federated-averaging runs,
 * fl-checkpoint.ts): written atomically with mode 0600, read back only when it is of the same kind,
 * version, federation and normalised spec as the run that resumes it.
 */
import { readFile } from 'node:fs/promises';
import { FedstatError, describeError } from '../errors.js';
import { canonicalJson } from '../util/canonical-json.js';
import { replaceFile } from '../util/durable-file.js';
import { isRecord } from '../util/is-record.js';

/** What must be equal for a checkpoint to belong to a run: the federation and the normalised spec. */
export interface RunIdentity {
  readonly federation: string;
  /** The spec with every default filled in and ρ in canonical form (JSON). */
  readonly spec: unknown;
}

/** CONFIG_INVALID: the checkpoint cannot be resumed, and why. */
export function damagedCheckpoint(file: string, why: string): FedstatError {
  return new FedstatError(
    'CONFIG_INVALID',
    `checkpoint ${file} cannot be resumed: ${why}; train again without --resume (and another --checkpoint file)`,
  );
}

/** Writes `{kind, format, ...identity, ...state}` atomically, mode 0600; IO naming the fix on failure. */
export async function writeCheckpoint(
  file: string,
  header: { readonly kind: string; readonly format: number },
  identity: RunIdentity,
  state: object,
): Promise<void> {
  try {
    await replaceFile(file, `${JSON.stringify({ ...header, ...identity, ...state })}\n`);
  } catch (e) {
    throw new FedstatError('IO', `cannot write checkpoint ${file}: ${describeError(e)}; check the directory`, {
      cause: e,
    });
  }
}

/**
 * Reads a checkpoint of this kind, version, federation and spec; the refusal of another spec names
 * the `noun` ("fit", "run") and its `fields`.
 */
export async function readCheckpoint(
  file: string,
  header: { readonly kind: string; readonly format: number },
  identity: RunIdentity,
  spec: { readonly noun: string; readonly fields: string },
): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new FedstatError(
      'CONFIG_INVALID',
      `cannot read checkpoint ${file} (${describeError(e)}); give the file an earlier run wrote, or train without --resume`,
      { cause: e },
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw damagedCheckpoint(file, 'it is not JSON (truncated or edited?)');
  }
  if (!isRecord(doc) || doc['kind'] !== header.kind || doc['format'] !== header.format)
    throw damagedCheckpoint(file, 'it is not a fedstat training checkpoint of this kind and version');
  if (doc['federation'] !== identity.federation) throw damagedCheckpoint(file, 'it was made in another federation');
  if (canonicalJson(doc['spec']) !== canonicalJson(identity.spec))
    throw new FedstatError(
      'CONFIG_INVALID',
      `checkpoint ${file} is of another ${spec.noun} (${spec.fields} differ); resume with the same options it was started with`,
    );
  return doc;
}
