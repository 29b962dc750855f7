/**
 * Times calls of chosen methods while a workload runs, by wrapping them on their prototypes (and
 * restoring them afterwards): how long each step of an AgentHost lifecycle takes, without
 * touching the library's code. Async methods are timed until their promise settles.
 */

export interface Probe {
  target: object;
  method: string;
  label: string;
}

export async function instrument(probes: Probe[], workload: (record: (label: string, ms: number) => void) => Promise<void>): Promise<Map<string, number[]>> {
  const times = new Map<string, number[]>(probes.map((p) => [p.label, []]));
  const record = (label: string, ms: number): void => {
    if (!times.has(label)) times.set(label, []);
    times.get(label)!.push(ms);
  };
  const originals = probes.map((p) => (p.target as Record<string, unknown>)[p.method] as (...args: unknown[]) => unknown);
  probes.forEach((p, i) => {
    const original = originals[i]!;
    (p.target as Record<string, unknown>)[p.method] = function (this: unknown, ...args: unknown[]): unknown {
      const start = performance.now();
      const result = original.apply(this, args);
      // execa's subprocess is a promise too: its sync part is what matters here.
      if (result instanceof Promise && !('pid' in result)) {
        return result.finally(() => record(p.label, performance.now() - start));
      }
      record(p.label, performance.now() - start);
      return result;
    };
  });
  try {
    await workload(record);
  } finally {
    probes.forEach((p, i) => ((p.target as Record<string, unknown>)[p.method] = originals[i]));
  }
  return times;
}
