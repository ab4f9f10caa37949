export interface MemoryPeaks {
  /** `process.memoryUsage()` when sampling started (after the caller's GC). */
  readonly baseline: { readonly rss: number; readonly heapUsed: number };
  readonly peakRss: number;
  readonly peakHeapUsed: number;
  readonly samples: number;
}

export interface MemorySampler {
  /** Takes a last sample, stops the timer and returns the peaks. */
  stop(): MemoryPeaks;
}

/**
 * Samples `process.memoryUsage()` every `intervalMs` and keeps the maximum. The timer is unref'd so it never keeps
 * the process alive; a sample is also taken at start and at stop, so even a run shorter than one interval has a
 * peak. A peak between two samples can be missed: the numbers are a lower bound at that resolution.
 */
export function startMemorySampler(intervalMs = 50): MemorySampler {
  const first = process.memoryUsage();
  let peakRss = first.rss;
  let peakHeapUsed = first.heapUsed;
  let samples = 1;
  const sample = (): void => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeapUsed = Math.max(peakHeapUsed, m.heapUsed);
    samples++;
  };
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { baseline: { rss: first.rss, heapUsed: first.heapUsed }, peakRss, peakHeapUsed, samples };
    },
  };
}
