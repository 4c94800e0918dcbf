/**
 * Runs a server as a child process: our real server (dist/src/main.js) for the load test, or any script
 * that prints a JSON line holding "url" once it listens (the benches' naive and raw servers). Stopped with
 * SIGTERM, then SIGKILL if it does not exit.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVER_NODE_FLAGS } from '../src/node-flags.js';

export interface ChildServer {
  readonly pid: number;
  /** http://host:port as the child announced it. */
  readonly url: string;
  /** The whole JSON line that announced it. */
  readonly ready: Record<string, unknown>;
  /** SIGTERM, wait up to killAfterMs, then SIGKILL; resolves with the exit code (null when killed by a signal). */
  stop(killAfterMs?: number): Promise<number | null>;
  /** True once the process has exited (on its own or stopped). */
  readonly exited: boolean;
  /** The last few KB of its stderr, for error messages. */
  stderrTail(): string;
}

export interface SpawnOptions {
  /** Flags for node itself (e.g. --cpu-prof). */
  nodeArgs?: string[];
  readyTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Run under `taskset -c LIST` (e.g. "0"): pinned to those CPUs. taskset execs node, so the pid is node's. */
  cpuList?: string;
}

const TAIL_BYTES = 4096;

/** Starts `node [nodeArgs] script [args]` and resolves once it prints a JSON line with a "url" field. */
export function spawnNodeServer(script: string, args: string[], opts: SpawnOptions = {}): Promise<ChildServer> {
  const argv = [...(opts.nodeArgs ?? []), script, ...args];
  const child: ChildProcess = spawn(opts.cpuList ? 'taskset' : process.execPath, opts.cpuList ? ['-c', opts.cpuList, process.execPath, ...argv] : argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
  });
  let stderr = '';
  let exited = false;
  let exitCode: number | null = null;
  const exitedP = new Promise<number | null>((r) => child.once('exit', (code) => { exited = true; exitCode = code; r(code); }));
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    stderr = (stderr + s).slice(-TAIL_BYTES);
  });

  return new Promise<ChildServer>((resolveReady, rejectReady) => {
    let buffered = '';
    let announced = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rejectReady(new Error(`${script} did not announce its URL within ${opts.readyTimeoutMs ?? 15_000} ms; stderr: ${stderr.trim()}`));
    }, opts.readyTimeoutMs ?? 15_000);
    child.stdout!.setEncoding('utf8');
    // Keep reading after the announcement too, so a chatty child never blocks on a full pipe.
    child.stdout!.on('data', (s: string) => {
      if (announced) return;
      buffered += s;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch {
          continue;
        }
        if (parsed && typeof parsed === 'object' && typeof (parsed as { url?: unknown }).url === 'string') {
          announced = true;
          clearTimeout(timer);
          const ready = parsed as Record<string, unknown>;
          resolveReady({
            pid: child.pid!,
            url: ready.url as string,
            ready,
            get exited() { return exited; },
            stderrTail: () => stderr,
            async stop(killAfterMs = 10_000) {
              if (exited) return exitCode;
              child.kill('SIGTERM');
              const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
              const code = await exitedP;
              clearTimeout(killer);
              return code;
            },
          });
          return;
        }
      }
    });
    exitedP.then((code) => {
      if (announced) return;
      clearTimeout(timer);
      rejectReady(new Error(`${script} exited (code ${code}) before listening; stderr: ${stderr.trim()}`));
    });
  });
}

/** dist/src/main.js, found from this file in dist/loadtest/ (or loadtest/ when run from source: then it must be built). */
export function serverEntry(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const inDist = here.split(/[\\/]/).includes('dist');
  return resolve(here, inDist ? '../src/main.js' : '../dist/src/main.js');
}

export interface OurServerOptions {
  width: number;
  height: number;
  /** Extra server flags (they win over the defaults below). */
  extraArgs?: string[];
  /** Write a V8 CPU profile of the server into this directory (node --cpu-prof). */
  cpuProfDir?: string | null;
  /** Pin the server to these CPUs (taskset -c). */
  cpuList?: string;
}

/**
 * Server flags that make a load test measure the server rather than its abuse limits: memory storage, paint
 * bucket and per-address cap out of the way. Pino's listening line is at info level, so info it is (the
 * server logs nothing else per connection at info).
 */
export function ourServerArgs(o: OurServerOptions): string[] {
  return [
    // --ops-port: /metrics on a listening socket of its own, so the samples keep coming while the public
    // port's accept queue is full (a crowd ramping up faster than the server accepts).
    '--port', '0', '--ops-port', '0', '--host', '127.0.0.1', '--in-memory',
    '--width', String(o.width), '--height', String(o.height),
    '--paint-rate', '1000000', '--paint-burst', '1000000',
    '--max-connections-per-ip', '100000', '--max-connections', '100000',
    '--log-level', 'info',
    ...(o.extraArgs ?? []),
  ];
}

export function startOurServer(o: OurServerOptions): Promise<ChildServer> {
  // The flags `npm start` runs the server with (src/node-flags.ts), so the load test measures that server.
  const nodeArgs = [...SERVER_NODE_FLAGS, ...(o.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', o.cpuProfDir] : [])];
  return spawnNodeServer(serverEntry(), ourServerArgs(o), { nodeArgs, ...(o.cpuList ? { cpuList: o.cpuList } : {}) });
}

/**
 * Pins every thread of this process to `cpuList` (taskset -a -p). New threads (workers) inherit the
 * creating thread's affinity, so call it before starting them. Throws if taskset is missing or refuses.
 */
export function pinSelf(cpuList: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpuList, String(process.pid)], { stdio: 'ignore' });
}

/** The soft limit on open files of this process (from /proc/self/limits), or null when unknown. */
export function openFileLimit(): number | null {
  try {
    const m = /Max open files\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!m) return null;
    return m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1]);
  } catch {
    return null;
  }
}

/** The hard limit on open files of this process, or null when unknown. */
function hardOpenFileLimit(): number | null {
  try {
    const m = /Max open files\s+\S+\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!m) return null;
    return m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1]);
  } catch {
    return null;
  }
}

/**
 * Raises this process's open-file limit to at least `needed` with prlimit(1) on our own pid (Node has no
 * setrlimit): the soft limit up to the hard one for anyone, the hard one too for root (up to fs.nr_open).
 * Children started afterwards (the server) inherit it. Returns the soft limit now, or null if unknown.
 */
export function raiseOpenFileLimit(needed: number): number | null {
  const soft = openFileLimit();
  if (soft === null || soft >= needed) return soft;
  const hard = hardOpenFileLimit() ?? soft;
  const target = process.getuid?.() === 0 ? Math.max(needed, Number.isFinite(hard) ? hard : needed) : Math.min(needed, hard);
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${target}:${Math.max(target, Number.isFinite(hard) ? hard : target)}`], { stdio: 'ignore' });
  } catch {
    // prlimit missing, or refused (not root and above the hard limit): the caller says what to set.
  }
  return openFileLimit();
}
