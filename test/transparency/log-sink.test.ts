/**
 * The audit-sink seam: events emitted through SignedEntrySink (agencies, key authority) and
 * TransparencyLogSink (the operator) become signed entries in the store, in emission order;
 * flush resolves once they are durable with heads that cover them, and the resulting log
 * passes the auditor's verifier. A failed append surfaces at flush, a malformed event at once.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/transparency/events.js';
import { isFedstatError } from '../../src/errors.js';
import { verifyAuditLog } from '../../src/auditor/verify.js';
import { decodeEntry } from '../../src/transparency/log-entry.js';
import { SignedEntrySink, TransparencyLogSink } from '../../src/transparency/log-sink.js';
import { TransparencyLogStore } from '../../src/transparency/log-store.js';
import { createAuditFixture, queryEvents, type AuditFixture } from '../auditor/audit-fixture.js';

let fx: AuditFixture;
beforeAll(async () => {
  fx = await createAuditFixture();
}, 60_000);
afterAll(() => fx.close());

describe('audit sinks', () => {
  it('sign each event as its author, append in order, and flush to durable, verifiable entries', async () => {
    const file = join(fx.dir, 'sink.tlog');
    const store = await TransparencyLogStore.open(file, {
      logId: fx.federation.id,
      secretKey: fx.keys.get(fx.coordinator)!,
    });
    const operator = new TransparencyLogSink(store, fx.coordinator, fx.keys.get(fx.coordinator)!);
    const sinks = new Map<string, { append(e: AuditEvent): void }>([[fx.coordinator, operator]]);
    for (const id of [...fx.agencies, fx.keyAuthority])
      sinks.set(
        id,
        new SignedEntrySink(id, fx.keys.get(id)!, (entry) => {
          void operator.appendEntry(entry);
        }),
      );
    const events = queryEvents('q1', ['a1', 'a2', 'a3'], 1_800_000_000_000, {
      coordinator: fx.coordinator,
      keyAuthority: fx.keyAuthority,
    });
    for (const { event, author } of events) sinks.get(author)!.append(event);
    const results = await operator.flush();
    expect(results.map((r) => r.index)).toEqual(events.map((_, i) => i));
    const last = results[results.length - 1]!.treeHead;
    expect(last.size).toBe(events.length);
    const stored = [];
    for await (const { entry } of store.entries()) stored.push(decodeEntry(entry));
    expect(stored.map((d) => [d.author, d.event])).toEqual(events.map((e) => [e.author, e.event]));
    expect(await operator.flush()).toEqual([]);
    await store.close();
    const report = await verifyAuditLog(file, { federation: fx.federation, heads: [last] });
    expect([report.ok, report.size, report.signedSize]).toEqual([true, events.length, events.length]);
  });

  it('report a failed append at flush and a malformed event at once', async () => {
    const store = await TransparencyLogStore.open(join(fx.dir, 'sink2.tlog'), {
      logId: fx.federation.id,
      secretKey: fx.keys.get(fx.coordinator)!,
    });
    const sink = new TransparencyLogSink(store, fx.coordinator, fx.keys.get(fx.coordinator)!);
    expect(() => {
      sink.append({ type: 'release', at: 1, queryId: '', contributors: [], rows: 0, suppressed: 0, rho: null });
    }).toThrow(RangeError);
    await store.close();
    sink.append({ type: 'release', at: 1, queryId: 'q', contributors: [], rows: 0, suppressed: 0, rho: null });
    const e = await sink.flush().catch((x: unknown) => x);
    expect(isFedstatError(e, 'UNAVAILABLE')).toBe(true);
  });
});
