// Preloaded into a benchmarked child (`node --import ./bench/usage-probe.mjs …`): at exit, writes the process's peak
// resident set size (getrusage maxrss, bytes) and CPU time (user + system, seconds) as JSON to the file named by
// BYNER_BENCH_USAGE. Wall time is the parent's to measure.
import { writeFileSync } from 'node:fs';

const file = process.env.BYNER_BENCH_USAGE;
if (file) {
  process.on('exit', () => {
    const u = process.resourceUsage();
    const cpuSeconds = (u.userCPUTime + u.systemCPUTime) / 1e6;
    writeFileSync(file, JSON.stringify({ peakRssBytes: u.maxRSS * 1024, cpuSeconds }));
  });
}
