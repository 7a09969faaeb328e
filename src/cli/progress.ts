/**
 * Progress bars for long work, on stderr and only when stderr is a terminal and the command is
 * not in --json mode; otherwise every call is a no-op, so scripts and CI logs stay clean.
 */
export interface Progress {
  update(done: number, total?: number, label?: string): void;
  done(message?: string): void;
}

const SILENT: Progress = { update: () => undefined, done: () => undefined };

export function progressBar(title: string, options: { json: boolean; total?: number }): Progress {
  const stream = process.stderr;
  if (options.json || !stream.isTTY) return SILENT;
  let total = options.total ?? 0;
  let last = 0;
  const started = Date.now();
  const render = (done: number, label: string): void => {
    const now = Date.now();
    if (now - last < 80 && done < total) return;
    last = now;
    const width = 28;
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const bar =
      total > 0
        ? `[${'█'.repeat(Math.round(frac * width)).padEnd(width, '░')}] ${(frac * 100).toFixed(0).padStart(3)}%`
        : '';
    const secs = ((now - started) / 1000).toFixed(1);
    const count = `${done.toLocaleString('en-US')}${total > 0 ? `/${total.toLocaleString('en-US')}` : ''}`;
    stream.write(`\r\x1b[2K${[title, bar, count, label, `${secs}s`].filter((p) => p !== '').join(' ')}`);
  };
  return {
    update: (done, t, label = '') => {
      if (t !== undefined) total = t;
      render(done, label);
    },
    done: (message) => {
      stream.write(`\r\x1b[2K${message === undefined ? '' : `${message}\n`}`);
    },
  };
}
