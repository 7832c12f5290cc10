/**
 * A set of event listeners: `emit` calls each one, and one listener's failure never hides the
 * event from the others; `subscribe` returns the function that unsubscribes.
 */
export function listenerSet<E>(): { emit: (event: E) => void; subscribe: (fn: (event: E) => void) => () => boolean } {
  const listeners = new Set<(event: E) => void>();
  return {
    emit: (event) => {
      for (const fn of listeners) {
        try {
          fn(event);
        } catch {
          // A listener's failure must not hide the event from the others.
        }
      }
    },
    subscribe: (fn) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
}
