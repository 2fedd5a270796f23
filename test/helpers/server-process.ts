// Test helper: a server binary run as a child process on a 127.0.0.1 port, waited for until it accepts
// connections, that a test can crash (SIGKILL), restart on the same port and stop. What the server is (FerretDB,
// Redis) and its arguments are the caller's.
import { type ChildProcess, spawn } from 'node:child_process';
import { createConnection } from 'node:net';

export interface ServerProcess {
  /** Kills the server (SIGKILL: an abrupt outage). */
  crash(): Promise<void>;
  /** Starts it again with the same arguments (crashing it first if it runs). */
  restart(): Promise<void>;
  /** Stops it (SIGTERM, SIGKILL after 5 s). */
  stop(): Promise<void>;
  /** The running server's process id (benchmarks read its CPU time), or undefined when it is not running. */
  pid(): number | undefined;
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export const canConnect = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });

/** Runs `binary args` and resolves once it listens on `port` (20 s at most; its output is in the error). */
export async function runServer(
  name: string,
  binary: string,
  args: string[],
  port: number,
): Promise<ServerProcess> {
  let child: ChildProcess | undefined;
  let log = '';
  const launch = async () => {
    log = '';
    const c = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    c.stdout?.on('data', (b) => (log = (log + b).slice(-4000)));
    c.stderr?.on('data', (b) => (log = (log + b).slice(-4000)));
    const deadline = Date.now() + 20_000;
    while (!(await canConnect(port))) {
      if (c.exitCode !== null) throw new Error(`${name} exited with ${c.exitCode}:\n${log}`);
      if (Date.now() > deadline)
        throw new Error(`${name} did not listen on 127.0.0.1:${port} in 20 s:\n${log}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const crash = async () => {
    if (child === undefined) return;
    const c = child;
    child = undefined;
    c.kill('SIGKILL');
    await exited(c);
  };
  await launch();
  return {
    crash,
    pid: () => child?.pid,
    async restart() {
      await crash();
      await launch();
    },
    async stop() {
      if (child === undefined) return;
      const c = child;
      child = undefined;
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
      await exited(c);
      clearTimeout(timer);
    },
  };
}
