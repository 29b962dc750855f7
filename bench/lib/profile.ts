/**
 * An in-process CPU profile (the inspector's sampling profiler, what `node --cpu-prof` writes),
 * summarised by where the main thread's time went: library files, dependencies, node internals,
 * garbage collection, idle (waiting in epoll for children and timers).
 */
import { Session } from 'node:inspector/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Self time by category, ms, largest first. */
  categories: [string, number][];
  /** Self time by function (category: name), ms, largest first. */
  functions: [string, number][];
}

function category(url: string, name: string): string {
  if (url === '') {
    if (name === '(idle)' || name === '(garbage collector)' || name === '(program)') return name;
    return `native: ${name}`;
  }
  const src = /\/src\/(.+?)\.ts$/.exec(url);
  if (src) return `src/${src[1]}.ts`;
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (dep) return dep[1]!;
  if (url.startsWith('node:internal/child_process') || url === 'node:child_process') return 'node:child_process';
  if (url.startsWith('node:internal/fs') || url === 'node:fs') return 'node:fs';
  if (url.includes('/bench/')) return 'bench';
  if (url.startsWith('node:')) return 'node (other internals)';
  return url;
}

/** Profiles `fn` with the given sampling interval (µs). */
export async function profile(fn: () => Promise<void>, intervalUs = 100): Promise<ProfileSummary> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: intervalUs });
  await session.post('Profiler.start');
  try {
    await fn();
  } catch (error) {
    await session.post('Profiler.stop');
    session.disconnect();
    throw error;
  }
  const { profile: result } = (await session.post('Profiler.stop')) as unknown as { profile: Profile };
  session.disconnect();
  const byId = new Map(result.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  result.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (result.timeDeltas[i] ?? 0)));
  const categories = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, us] of self) {
    const { url, functionName } = byId.get(id)!.callFrame;
    // The inspector's own dispatch (Profiler.stop building the profile) is not the workload's.
    if (url === '' && functionName === 'dispatch') continue;
    const cat = category(url, functionName);
    categories.set(cat, (categories.get(cat) ?? 0) + us / 1000);
    const fnKey = `${cat}: ${functionName || '(anonymous)'}`;
    functions.set(fnKey, (functions.get(fnKey) ?? 0) + us / 1000);
  }
  const sorted = (m: Map<string, number>): [string, number][] => [...m].sort((a, b) => b[1] - a[1]);
  return { totalMs: (result.endTime - result.startTime) / 1000, categories: sorted(categories), functions: sorted(functions) };
}
