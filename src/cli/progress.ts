/**
 * Progress for long commands: a bar with rate and ETA on a terminal, plain
 * lines (every 10 %) otherwise, so logs and CI stay readable.
 */
const BAR_WIDTH = 30;
const REDRAW_EVERY_MS = 100;

export function progressReporter(
  label: string,
  out: NodeJS.WriteStream = process.stderr,
): { update: (done: number, total: number) => void; end: () => void } {
  const started = performance.now();
  let lastDraw = 0;
  let lastDecile = -1;
  const tty = out.isTTY === true;
  const line = (done: number, total: number) => {
    const secs = (performance.now() - started) / 1000;
    const rate = secs > 0 ? done / secs : 0;
    const eta = rate > 0 ? (total - done) / rate : 0;
    const pct = total ? Math.floor((done / total) * 100) : 100;
    return { pct, text: `${label} ${done}/${total} ${pct}% ${rate.toFixed(0)} msg/s ETA ${eta.toFixed(0)}s` };
  };
  return {
    update(done, total) {
      const { pct, text } = line(done, total);
      if (tty) {
        const now = performance.now();
        if (now - lastDraw < REDRAW_EVERY_MS && done < total) return;
        lastDraw = now;
        const filled = Math.round((pct / 100) * BAR_WIDTH);
        out.write(`\r[${'#'.repeat(filled)}${' '.repeat(BAR_WIDTH - filled)}] ${text}\x1b[K`);
      } else if (Math.floor(pct / 10) > lastDecile || done === total) {
        lastDecile = Math.floor(pct / 10);
        out.write(`${text}\n`);
      }
    },
    end() {
      if (tty) out.write('\n');
    },
  };
}
