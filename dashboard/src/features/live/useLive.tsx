import { useEffect, useRef, useState } from 'react';

// Event names the api's SSE may use; unnamed events arrive as "message". Listening to all of them keeps
// the dashboard live whichever the server emits.
export const SSE_EVENT_NAMES = ['message', 'run', 'status', 'metrics', 'cells', 'checkpoint', 'event', 'events', 'queue', 'update', 'run-update', 'queue-update', 'snapshot'];

export interface LiveState {
  /** Increments on every server event (coalesced over `debounceMs`): use it as a reload dependency. */
  tick: number;
  /** true while the EventSource is open; false means the polling fallback drives `tick`. */
  connected: boolean;
  /** The last event's parsed data, for consumers that can use it directly. */
  last: unknown;
}

/**
 * Subscribes to a server-sent event stream. Each event bumps `tick`; consumers refetch what they show, so
 * the payload format is not load-bearing. While the stream is down (proxy, server restart) a poll every
 * `pollMs` keeps the page moving, and EventSource's own retry reconnects.
 */
export function useLive(url: string | undefined, { enabled = true, debounceMs = 250, pollMs = 3000 } = {}): LiveState {
  const [tick, setTick] = useState(0);
  const [connected, setConnected] = useState(false);
  const [last, setLast] = useState<unknown>();
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);

  useEffect(() => {
    if (!url || !enabled) return;
    const bump = () => {
      if (timer.current) return;
      timer.current = setTimeout(() => {
        timer.current = undefined;
        setTick((t) => t + 1);
      }, debounceMs);
    };
    let source: EventSource | undefined;
    if (typeof EventSource !== 'undefined') {
      source = new EventSource(url);
      source.onopen = () => setConnected(true);
      source.onerror = () => setConnected(false);
      const onEvent = (e: MessageEvent) => {
        try {
          setLast(JSON.parse(e.data));
        } catch {
          setLast(e.data);
        }
        bump();
      };
      for (const name of SSE_EVENT_NAMES) source.addEventListener(name, onEvent as EventListener);
    }
    return () => {
      source?.close();
      if (timer.current) clearTimeout(timer.current);
      timer.current = undefined;
      setConnected(false);
    };
  }, [url, enabled, debounceMs]);

  useEffect(() => {
    if (!url || !enabled || connected) return;
    const id = setInterval(() => setTick((t) => t + 1), pollMs);
    return () => clearInterval(id);
  }, [url, enabled, connected, pollMs]);

  return { tick, connected, last };
}

export function LiveIndicator({ live, label = 'Live' }: { live: LiveState; label?: string }) {
  return (
    <span className={`live ${live.connected ? 'live-on' : 'live-off'}`} role="status" aria-live="polite">
      <span className="dot" aria-hidden="true" />
      {live.connected ? `${label}: streaming` : `${label}: polling`}
    </span>
  );
}
