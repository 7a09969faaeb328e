/**
 * Resolves on the first SIGINT or SIGTERM, for the serving commands' graceful stop. The handlers
 * are removed then, so a second signal gets Node's default and ends the process at once.
 */
export function stopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
