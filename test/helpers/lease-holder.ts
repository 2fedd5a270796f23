// A process that takes one lease and holds it (renewing) until killed, for the lease suite's "holder dies" and
// "holder hangs" cases: `node --import tsx lease-holder.ts URL KEY OWNER TTL_MS`. Prints JSON lines: acquired or
// refused, lost (with why and whether `held` still says so), and every 100 ms alive with `held` (so a test sees what
// it believes after SIGSTOP/SIGCONT; a SIGCONT handler was not always run in time under load).
import { Lease } from '../../src/bus/lease.js';
import { connectBus } from '../../src/bus/redis.js';

const [url, key, owner, ttl] = process.argv.slice(2);
const print = (o: object) => process.stdout.write(`${JSON.stringify({ ...o, at: Date.now() })}\n`);
const bus = await connectBus(url);
let lease: Lease | null = null;
lease = await Lease.acquire(bus.redis, key, owner, {
  ttlMs: Number(ttl),
  onLost: (why) => print({ event: 'lost', why, held: lease?.held }),
});
print({ event: lease === null ? 'refused' : 'acquired' });
setInterval(() => print({ event: 'alive', held: lease?.held }), 100);
