// Options of a ladder run (src/train/ladder.ts) for tests: the default job's (DESIGN §5: 10,000 ticks of the default
// source, the full LSTM, 70/10/20, season 10) on the default stream, every kind, in `dir`; tests override parts.
import { DEFAULT_SPLIT } from '../../src/features/windows.js';
import { DEFAULT_SOURCE } from '../../src/ticks/generator.js';
import type { LadderOptions } from '../../src/train/ladder.js';
import { DEFAULT_FIT } from '../../src/train/train.js';

export const ladderOptions = (dir: string, over: Partial<LadderOptions> = {}): LadderOptions => ({
  streams: ['synthetic'],
  choice: 'all',
  ticks: 10_000,
  source: DEFAULT_SOURCE,
  model: {},
  fit: DEFAULT_FIT,
  split: DEFAULT_SPLIT,
  season: 10,
  outputDir: null,
  workDir: dir,
  resume: false,
  force: false,
  ...over,
});
