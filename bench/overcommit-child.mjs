// An agent of bench/overcommit.ts: grows its memory in steps, holds it, exits 0.
// Plain JavaScript run by plain node (no loader), so it starts fast even in the emulated VM.
//   node overcommit-child.mjs TARGET_MB STEP_MB STEP_MS HOLD_MS
import { writeFileSync } from 'node:fs';

// The bench protects itself from the kernel's OOM killer (-1000) and children inherit that:
// an agent must be as killable as any other process, so it gives the protection back first.
try {
  writeFileSync('/proc/self/oom_score_adj', '0');
} catch {
  // not Linux, or /proc read-only: nothing was inherited that matters
}

// The host's eviction notice (SIGUSR2): a real harness saves its state here and waits for the
// kill — it stops working, and so stops growing; without a listener node would die of the signal at once.
let noticed = false;
process.on('SIGUSR2', () => {
  noticed = true;
  setInterval(() => {}, 60_000); // waits for the kill: its work is not done
});

const [target, step, every, hold] = process.argv.slice(2).map(Number);
const held = [];
let size = 0;
function grow() {
  if (noticed) return;
  if (size >= target) {
    setTimeout(() => noticed || process.exit(0), hold);
    return;
  }
  const mb = Math.min(step, target - size);
  // Buffer.alloc(n, 1) writes every page: resident, not just reserved.
  held.push(Buffer.alloc(mb * 1024 * 1024, 1));
  size += mb;
  setTimeout(grow, every);
}
grow();
