/**
 * --rps: on loopback the kernel does the receiving side's TCP work in the sender's context, so the server's
 * core pays for the generator's receives. Receive packet steering (RPS) on lo's queue moves that work to the
 * CPUs in a mask; pointing it at the generator's CPUs makes this machine a closer stand-in for clients on
 * another host. Root and Linux only; never a default.
 *
 * The previous mask is restored when the run ends, and also on SIGINT/SIGTERM/SIGHUP, an uncaught exception
 * or a plain process exit, so an interrupted run does not leave the machine steered.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export const LO_RPS_PATH = '/sys/class/net/lo/queues/rx-0/rps_cpus';

/** The hex CPU mask sysfs takes for a list of CPU numbers (e.g. [1] → "2", [1, 2, 3] → "e"). */
export function cpuMask(cpus: readonly number[]): string {
  let mask = 0n;
  for (const c of cpus) mask |= 1n << BigInt(c);
  return mask.toString(16);
}

export interface RpsHandle {
  /** The mask written, and the one there before (restored by restore()). */
  readonly mask: string;
  readonly previous: string;
  /** Puts the previous mask back; safe to call more than once. */
  restore(): void;
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Writes `mask` to `path` (lo's rps_cpus by default) and arranges for the previous value to come back. Throws when it cannot write. */
export function steerLoopback(mask: string, path = LO_RPS_PATH): RpsHandle {
  const previous = readFileSync(path, 'utf8').trim();
  writeFileSync(path, `${mask}\n`);
  let restored = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    restore();
    // Die of the signal as we would have without a handler (exit status 128 + n).
    process.kill(process.pid, sig);
  };
  const onException = (): void => restore();
  const restore = (): void => {
    if (restored) return;
    restored = true;
    try {
      writeFileSync(path, `${previous}\n`);
    } finally {
      process.off('exit', restore);
      process.off('uncaughtExceptionMonitor', onException);
      for (const s of SIGNALS) process.off(s, onSignal);
    }
  };
  process.once('exit', restore);
  // A monitor does not change how an uncaught exception ends the process; it only gets to run first.
  process.on('uncaughtExceptionMonitor', onException);
  for (const s of SIGNALS) process.once(s, onSignal);
  return { mask, previous, restore };
}
