/**
 * Setup file of the `reliability` project, run before each test file. The project shares one
 * module cache between its files (vitest `isolate: false`: under the VM's software emulation,
 * loading the library afresh for every file cost ~10 s each), so per-file hooks live here rather
 * than in helpers.ts, which is evaluated only once.
 */
import { afterEach } from 'vitest';
import { runDeferred } from './helpers.js';

afterEach(runDeferred);
