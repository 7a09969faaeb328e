/**
 * The one node-seal (Microsoft SEAL 4.1 compiled to WebAssembly) instance of the process.
 *
 * Hazards of this module that every caller inherits, all measured with node-seal 7.0.0:
 * - Objects live in WASM memory and are never garbage collected: whoever creates a SEAL object
 *   owns it and must `.delete()` it exactly once (fedstat wraps them in `Disposable` handles).
 * - A C++ exception that SEAL throws reaches JavaScript as a `WebAssembly.Exception` whose
 *   `message` is `[type, what]`. Each such throw leaks 16 bytes of the instance's 64 KiB stack
 *   (the unwound frames never restore the stack pointer), so after roughly 3,500 caught throws
 *   the instance aborts and every later call fails. Untrusted bytes therefore never reach SEAL
 *   before a complete structural check in JavaScript (see `ciphertext-layout.ts`): SEAL is asked
 *   to load only what it cannot refuse, and a throw is a rare local fault, never a peer's lever.
 */
import initialize, { type MainModule } from 'node-seal';

/** The node-seal module: constructors and enums of SEAL's embind bindings. */
export type SealModule = MainModule;

let instance: Promise<SealModule> | undefined;

/** Loads node-seal once per process; every caller shares the same WASM instance. */
export function loadSeal(): Promise<SealModule> {
  instance ??= initialize().catch((e: unknown) => {
    instance = undefined; // let a later call retry instead of caching the failure
    throw e;
  });
  return instance;
}

/** `WebAssembly.Exception` (Node ≥ 17), looked up untyped: the project's lib has no WebAssembly types. */
const WasmException = (globalThis as { WebAssembly?: { Exception?: abstract new (...args: never[]) => object } })
  .WebAssembly?.Exception;

/** The runtime helpers emscripten exports beside the bindings (not in node-seal's typings). */
interface ExceptionHelpers {
  decrementExceptionRefcount?: (e: unknown) => void;
}

/**
 * Turns a value thrown by a SEAL call into a short, secret-free reason and releases the C++
 * exception object it holds (otherwise a small heap leak per throw). SEAL's reasons are fixed
 * texts such as "I/O error: input buffer ended unexpectedly"; they never contain input bytes.
 */
export function sealFailureReason(seal: SealModule, e: unknown): string {
  if (WasmException !== undefined && e instanceof WasmException) {
    const message: unknown = (e as { message?: unknown }).message;
    const reason = Array.isArray(message) ? message.map(String).join(': ') : 'SEAL exception';
    try {
      (seal as SealModule & ExceptionHelpers).decrementExceptionRefcount?.(e);
    } catch {
      // an instance that already aborted cannot free anything; the reason is still useful
    }
    return reason;
  }
  if (e instanceof Error) return e.message.split('\n')[0] ?? e.name;
  return String(e);
}

/**
 * Narrows what node-seal's `saveToArray` returns (typed `any`) to bytes the caller owns. node-seal
 * already returns a fresh copy outside WASM memory; a view into that memory is copied instead.
 */
export function ownBytes(saved: unknown): Uint8Array {
  if (!(saved instanceof Uint8Array)) throw new TypeError('node-seal returned no bytes');
  return saved.byteOffset === 0 && saved.buffer.byteLength === saved.byteLength ? saved : saved.slice();
}
