/**
 * A small RFC 4180 reader for the seed tests, written independently of src/seed/csv-writer.ts so
 * the tests check the files against the standard rather than against the writer's own idea of it.
 */
export function parseCsv(text: string): string[][] {
  // Without quotes or CR the grammar reduces to plain splitting (and the big seed files are like that).
  if (!text.includes('"') && !text.includes('\r')) {
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    return lines.map((l) => l.split(','));
  }
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
      } else if (c === '"') {
        quoted = false;
        i++;
      } else {
        field += c;
        i++;
      }
    } else if (c === '"' && field === '') {
      quoted = true;
      i++;
    } else if (c === ',') {
      record.push(field);
      field = '';
      i++;
    } else if (c === '\n' || (c === '\r' && text[i + 1] === '\n')) {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i += c === '\r' ? 2 : 1;
    } else {
      field += c;
      i++;
    }
  }
  if (quoted) throw new Error('unterminated quoted field');
  if (field !== '' || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  return records;
}

/** Header plus rows as objects keyed by column name; throws on ragged rows. */
export function parseCsvObjects(text: string): { header: string[]; rows: Record<string, string>[] } {
  const [header, ...body] = parseCsv(text);
  if (header === undefined) throw new Error('empty CSV');
  const rows = body.map((r, n) => {
    if (r.length !== header.length) throw new Error(`line ${n + 2}: ${r.length} fields, header has ${header.length}`);
    return Object.fromEntries(header.map((h, k) => [h, r[k]!]));
  });
  return { header, rows };
}
