// Runs an async function over many items with at most `limit` running at once, results in the
// items' order. Provisioning 10,000 credentials with Promise.all issues 30,000 file reads at
// once, and their completions then queue ahead of every request on the event loop (a reload
// of nothing measured 760 ms of request latency that way); a few dozen at a time keeps the
// disk busy and lets requests through between them.

export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
