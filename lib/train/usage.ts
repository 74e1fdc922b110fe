/**
 * What the machine and this process spend, recorded beside each epoch's
 * timing: the machine may be shared, so wall time alone does not say what
 * a run costs. {@link loadAverage1} is the machine's 1-minute load average;
 * {@link processCpuSeconds} the CPU time this process has used (all its
 * threads), which does not grow while other processes hold the cores.
 *
 * @module
 */

/**
 * The machine's 1-minute load average, or undefined where the system does
 * not tell (or `--allow-sys` is missing).
 *
 * @example
 * ```ts
 * import { loadAverage1 } from "./usage.ts";
 * const l = loadAverage1();
 * if (l !== undefined && !(l >= 0)) throw new Error(String(l));
 * ```
 */
export function loadAverage1(): number | undefined {
  try {
    return Deno.loadavg()[0];
  } catch {
    return undefined;
  }
}

// Linux reports process times in clock ticks of USER_HZ, 100 per second.
const USER_HZ = 100;

/**
 * CPU seconds (user + system, all threads) this process has used so far,
 * from `/proc/self/stat` (Linux, 1/100 s resolution); undefined elsewhere.
 *
 * @example
 * ```ts
 * import { processCpuSeconds } from "./usage.ts";
 * const t = processCpuSeconds();
 * if (Deno.build.os === "linux" && !(t! > 0)) throw new Error(String(t));
 * ```
 */
export function processCpuSeconds(): number | undefined {
  try {
    const stat = Deno.readTextFileSync("/proc/self/stat");
    // Fields after the command name "(...)": state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(f[11]) + Number(f[12]);
    return Number.isFinite(ticks) ? ticks / USER_HZ : undefined;
  } catch {
    return undefined;
  }
}
