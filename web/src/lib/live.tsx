/**
 * The signed-in app's Socket.IO session and call controller, shared by every page so a call keeps
 * running while the rep looks at history or the knowledge base.
 */
import { createContext, useContext, useEffect, useState, useSyncExternalStore, type ReactNode } from 'react';
import { api } from '../api/client';
import { CallController, type CaptureState } from '../realtime/controller';
import { LiveSession, type LiveState } from '../realtime/session';
import { createSocket } from '../realtime/socket';

const LiveContext = createContext<CallController | null>(null);

export function LiveProvider({ children }: { children: ReactNode }) {
  const [controller, setController] = useState<CallController | null>(null);

  useEffect(() => {
    const socket = createSocket();
    const session = new LiveSession(socket);
    const ctl = new CallController(session);
    setController(ctl);
    // a provider may have failed over before this page loaded
    const ctrl = new AbortController();
    api.providers(ctrl.signal).then(
      (r) =>
        session.seedProviders(
          r.parts
            .filter((p) => p.degraded)
            .map((p) => ({ part: p.part, provider: p.active, degraded: true, message: p.recent_errors[0]?.message ?? '' })),
        ),
      () => undefined, // optional: the banner then waits for provider-status events
    );
    const leave = () => {
      // let the server close the call cleanly if the tab goes away mid-call
      if (session.getState().phase === 'live') socket.emit('end-call');
    };
    window.addEventListener('pagehide', leave);
    return () => {
      ctrl.abort();
      window.removeEventListener('pagehide', leave);
      ctl.dispose();
      session.dispose();
      socket.disconnect();
    };
  }, []);

  if (!controller) return null;
  return <LiveContext.Provider value={controller}>{children}</LiveContext.Provider>;
}

export function useController(): CallController {
  const c = useContext(LiveContext);
  if (!c) throw new Error('useController outside LiveProvider');
  return c;
}

export function useLiveState(): LiveState {
  const c = useController();
  return useSyncExternalStore(c.session.subscribe, c.session.getState);
}

export function useCaptureState(): CaptureState {
  const c = useController();
  return useSyncExternalStore(c.subscribe, c.getState);
}
