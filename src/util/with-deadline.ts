/**
 * Races a promise against a deadline. The timer is cleared when the promise settles and never
 * keeps the process alive (a CLI must exit whatever its peers do); the promise itself is not
 * cancelled, so give the underlying call its own deadline too.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`${what} within ${ms} ms`));
    }, ms);
    timer.unref();
  });
  return Promise.race([work, expired]).finally(() => {
    clearTimeout(timer);
  });
}
