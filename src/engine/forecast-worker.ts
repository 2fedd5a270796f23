// The forecast helper thread: serves the jobs that ForecastThread posts (forecast-thread.ts) on its own kernels,
// and says "ready" once it has them. Leaves every decision to the calling thread's side.
import { parentPort, workerData } from 'node:worker_threads';
import { serveJobs } from './channel.js';
import { type ForecastInit, forecastJobs, HELPER_SPIN_MS } from './forecast-thread.js';

const init = workerData as ForecastInit;
const run = forecastJobs(init);
parentPort!.postMessage('ready');
serveJobs(init.channel, run, HELPER_SPIN_MS);
