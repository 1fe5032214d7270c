/**
 * Collects items during one event-loop turn and hands them to `flush` together in the turn's
 * check phase (setImmediate), in arrival order. Used where a burst of small writes costs more
 * one by one than together: answers to sockets (one reader wake-up per burst) and log lines
 * (one hand-over to the log stream). Nothing waits on a timer.
 */
export interface PerTurnQueue<T> {
  push(item: T): void;
  /** Hands over what is held now, without waiting for the check phase; false when nothing was held. */
  drain(): boolean;
}

export function perTurnQueue<T>(flush: (items: T[]) => void): PerTurnQueue<T> {
  let held: T[] = [];
  let scheduled = false;
  const drain = (): boolean => {
    scheduled = false;
    if (held.length === 0) return false;
    const items = held;
    held = [];
    flush(items);
    return true;
  };
  return {
    push(item) {
      held.push(item);
      if (!scheduled) {
        scheduled = true;
        setImmediate(() => void drain());
      }
    },
    drain,
  };
}
