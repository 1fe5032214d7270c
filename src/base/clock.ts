/** Time as a dependency, so tests can move it. */
export interface Clock {
  now(): number; // epoch milliseconds
}

export const systemClock: Clock = { now: () => Date.now() };

export function isoNow(clock: Clock = systemClock): string {
  return new Date(clock.now()).toISOString();
}
