/** Expected peaks (option, profile, all agents, memoryHigh), their persistence, and admission by expected peak. */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { admitByMemory } from '../../../src/host/memory-admission.js';
import { PEAKS_FILE, PeakBook, validateProfile } from '../../../src/host/peaks.js';
import { fakeTree } from '../../helpers/fake-tree.js';

const M = 1024 * 1024;
const G = 1024 * M;

afterEach(() => vi.useRealTimers());

describe('PeakBook.expected', () => {
  it('takes the option, then the profile, then all agents, then memoryHigh; never above memoryMax', () => {
    const book = new PeakBook(undefined);
    const limits = { memoryHigh: 3 * G, memoryMax: 4 * G };
    expect(book.expected({ ...limits })).toEqual({ bytes: 3 * G, source: 'memory-high' });
    expect(book.expected({ memoryMax: 4 * G })).toEqual({ bytes: 4 * G, source: 'memory-high' });
    expect(book.expected({})).toEqual({ bytes: 0, source: 'none' });
    book.record(undefined, 200 * M);
    expect(book.expected({ ...limits, profile: 'repo-a:test' })).toEqual({ bytes: 200 * M, source: 'host' });
    book.record('repo-a:test', 900 * M);
    expect(book.expected({ ...limits, profile: 'repo-a:test' })).toEqual({ bytes: 900 * M, source: 'profile' });
    expect(book.expected({ ...limits, profile: 'repo-b:build' })).toEqual({ bytes: 900 * M, source: 'host' });
    expect(book.expected({ ...limits, profile: 'repo-a:test', expectedMemory: '2G' })).toEqual({ bytes: 2 * G, source: 'option' });
    expect(book.expected({ ...limits, expectedMemory: '8G' })).toEqual({ bytes: 4 * G, source: 'option' });
    expect(() => book.expected({ expectedMemory: 'lots' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_SIZE' }));
    expect(() => book.expected({ expectedMemory: 'max' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
  });

  it('learns a high percentile of the newest peaks, so one outlier does not rule', () => {
    const book = new PeakBook(undefined, { keep: 10, percentile: 0.9 });
    for (let i = 1; i <= 20; i++) book.record('p', i * M);
    // The newest ten are 11..20 MiB: the 90th percentile (nearest rank) is 19 MiB.
    expect(book.learned('p')).toBe(19 * M);
    book.record('q', 100 * M);
    for (let i = 0; i < 9; i++) book.record('q', 10 * M);
    expect(book.learned('q')).toBe(10 * M);
    expect(book.learned('none')).toBeUndefined();
    book.record('p', 0);
    book.record('p', Number.NaN);
    expect(book.learned('p')).toBe(19 * M);
  });

  it('keeps the most recently updated profiles only', () => {
    vi.useFakeTimers({ now: 1000 });
    const book = new PeakBook(undefined, { profiles: 2 });
    book.record('a', M);
    vi.advanceTimersByTime(1);
    book.record('b', M);
    vi.advanceTimersByTime(1);
    book.record('a', M);
    vi.advanceTimersByTime(1);
    book.record('c', M);
    expect([book.learned('a'), book.learned('b'), book.learned('c')]).toEqual([M, undefined, M]);
  });

  it('validates its options and profiles', () => {
    expect(() => new PeakBook(undefined, { keep: 0 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    expect(() => new PeakBook(undefined, { percentile: 1.5 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    expect(validateProfile(undefined)).toBeUndefined();
    expect(validateProfile('repo:task')).toBe('repo:task');
    expect(() => validateProfile('')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    expect(() => validateProfile(42)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
  });
});

describe('PeakBook persistence', () => {
  it('survives a restart: written atomically in the state directory, read by the next book', () => {
    const tree = fakeTree({ 'state/': '' });
    const dir = tree.path('state');
    const book = new PeakBook(dir, { saveDelay: 0 });
    book.record('repo:test', 300 * M);
    book.record(undefined, 100 * M);
    expect(readdirSync(join(dir, 'profiles'))).toEqual(['peaks.json']);
    // No *.json at the top of the state directory: those are agents' records.
    expect(readdirSync(dir).filter((name) => name.endsWith('.json'))).toEqual([]);
    const again = new PeakBook(dir);
    expect(again.learned('repo:test')).toBe(300 * M);
    expect(again.learned()).toBe(300 * M);
    expect(again.expected({ memoryHigh: 3 * G, profile: 'repo:test' })).toEqual({ bytes: 300 * M, source: 'profile' });
  });

  it('gathers writes for saveDelay and flushes on demand', () => {
    vi.useFakeTimers();
    const tree = fakeTree({ 'state/': '' });
    const dir = tree.path('state');
    const book = new PeakBook(dir, { saveDelay: 1000 });
    book.record('a', M);
    book.record('a', 2 * M);
    expect(existsSync(join(dir, PEAKS_FILE))).toBe(false);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1000);
    expect(JSON.parse(readFileSync(join(dir, PEAKS_FILE), 'utf8'))).toMatchObject({ version: 1, profiles: { a: { peaks: [M, 2 * M] } } });
    book.record('a', 3 * M);
    book.flush();
    expect(vi.getTimerCount()).toBe(0);
    expect(new PeakBook(dir).learned('a')).toBe(3 * M);
  });

  it('starts empty from a missing, corrupt or foreign file, and removes temp files of dead writers', () => {
    const tree = fakeTree({ 'state/': '' });
    const dir = tree.path('state');
    expect(new PeakBook(dir).learned()).toBeUndefined();
    mkdirSync(join(dir, 'profiles'));
    writeFileSync(join(dir, PEAKS_FILE), '{"version":1,"all":[5');
    writeFileSync(join(dir, `${PEAKS_FILE}.999999999.tmp`), '{');
    expect(new PeakBook(dir).learned()).toBeUndefined();
    expect(readdirSync(join(dir, 'profiles'))).toEqual(['peaks.json']);
    writeFileSync(join(dir, PEAKS_FILE), JSON.stringify({ version: 2, all: [5] }));
    expect(new PeakBook(dir).learned()).toBeUndefined();
    writeFileSync(join(dir, PEAKS_FILE), JSON.stringify({ version: 1, all: [5, 'x', -1], profiles: { p: { peaks: [7, null] } } }));
    const book = new PeakBook(dir);
    expect([book.learned(), book.learned('p')]).toEqual([5, 7]);
  });
});

describe('admitByMemory', () => {
  const budget = 2000 * M;
  const running = [
    { id: 'a', workingSet: 50 * M, expected: 300 * M },
    { id: 'b', workingSet: 400 * M, expected: 300 * M },
  ];

  it('reserves max(working set, expected peak) per running agent and admits what fits under high × budget', () => {
    // Reserved 300 + 400 = 700 MiB; limit 1700 MiB; baseline 200 MiB: 800 MiB free.
    const fits = admitByMemory({ budget, high: 0.85, baseline: 200 * M, running, candidate: { id: 'c', expected: 800 * M } });
    expect(fits).toEqual({ admit: true, reserved: 700 * M, baseline: 200 * M, expected: 800 * M, limit: 1700 * M, free: 800 * M });
    const waits = admitByMemory({ budget, high: 0.85, baseline: 200 * M, running, candidate: { id: 'c', expected: 801 * M } });
    expect(waits).toMatchObject({ admit: false, reason: 'memory', reserved: 700 * M, expected: 801 * M, free: 800 * M });
  });

  it('admits anything when no agent runs: nothing would free memory for it', () => {
    expect(admitByMemory({ budget, high: 0.85, baseline: 1900 * M, running: [], candidate: { id: 'c', expected: 3000 * M } }).admit).toBe(true);
  });

  it('keeps the seed’s capacity: 300 agents expected at memoryHigh 3G fit 85 % of 1.5 TB', () => {
    const seed = 1536 * G;
    const three = Array.from({ length: 299 }, (_, i) => ({ id: `a${i}`, workingSet: G, expected: 3 * G }));
    expect(admitByMemory({ budget: seed, high: 0.85, running: three, candidate: { id: 'last', expected: 3 * G } }).admit).toBe(true);
    const many = Array.from({ length: 435 }, (_, i) => ({ id: `a${i}`, workingSet: G, expected: 3 * G }));
    expect(admitByMemory({ budget: seed, high: 0.85, running: many, candidate: { id: 'next', expected: 3 * G } }).admit).toBe(false);
  });
});
