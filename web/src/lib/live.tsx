/**
 * The signed-in app's Socket.IO session and call controller, shared by every page so a call keeps
 * running while the rep looks at history or the knowledge base.
 */
import { createContext, useContext, useEffect, useState, useSyncExternalStore, type ReactNode } from 'react';
import { ApiError, api } from '../api/client';
import type { CallDetail } from '../api/types';
import { CallController, type CaptureState } from '../realtime/controller';
import { RunningCallStore, type RunningCall } from '../realtime/running';
import { LiveSession, type LiveState } from '../realtime/session';
import { createSocket } from '../realtime/socket';

/** What the server saved of a call, as the live session shows it. */
function savedOf(call: CallDetail) {
  return {
    transcript: call.transcript.map((s) => ({ id: s.id, text: s.text, speaker: s.speaker, start: s.start, end: s.end, is_final: true })),
    insights: call.recommendations.map((r) => ({
      id: r.id,
      content: r.content,
      category: r.category,
      agent: r.agent,
      kind: r.kind,
      context_snippet: r.context_snippet,
      created_at: r.created_at,
      source: r.source,
      entity: r.entity,
      confidence: r.confidence,
      feedback: r.feedback_status ?? 'none',
    })),
  };
}

/** Resumes `call` on this page, then adds what the server saved of it before (fetched after the
 * resume, so nothing said in between is missed: lines come once, by id). */
export async function resumeCall(ctl: CallController, call: RunningCall | NonNullable<CaptureState['offer']>): Promise<boolean> {
  if (!(await ctl.resume(call))) return false;
  try {
    ctl.session.seed(call.callId, savedOf(await api.getCall(call.callId)));
  } catch {
    // the call goes on; only the lines from before the reload are missing from the screen
  }
  return true;
}

/** On load: a call this browser was streaming and the server still runs is resumed at once if
 * this tab streamed it (a reload), or offered (another tab, or a closed one). */
async function takeBackRunning(ctl: CallController, running: RunningCallStore, signal: AbortSignal): Promise<void> {
  const call = running.load();
  if (!call) return;
  let open: boolean;
  try {
    const detail = await api.getCall(call.callId, signal);
    open = !detail.end_time;
  } catch (e) {
    if (signal.aborted) return;
    open = !(e instanceof ApiError && e.status === 404); // unreachable: offer it anyway
  }
  if (signal.aborted) return;
  if (!open) {
    running.clear(call.callId);
    return;
  }
  if (!call.mine || !(await resumeCall(ctl, call))) ctl.offer(call);
}

const LiveContext = createContext<CallController | null>(null);

export function LiveProvider({ children }: { children: ReactNode }) {
  const [controller, setController] = useState<CallController | null>(null);

  useEffect(() => {
    const socket = createSocket();
    const session = new LiveSession(socket);
    const running = new RunningCallStore();
    const ctl = new CallController(session, undefined, running);
    setController(ctl);
    const ctrl = new AbortController();
    // once connected: a call left running by a reload or another tab
    const unwatch = session.subscribe(() => {
      if (session.getState().connection !== 'connected') return;
      unwatch();
      void takeBackRunning(ctl, running, ctrl.signal);
    });
    // a provider may have failed over before this page loaded
    api.providers(ctrl.signal).then(
      (r) =>
        session.seedProviders(
          r.parts
            .filter((p) => p.degraded)
            .map((p) => ({ part: p.part, provider: p.active, degraded: true, message: p.recent_errors[0]?.message ?? '' })),
        ),
      () => undefined, // optional: the banner then waits for provider-status events
    );
    // No end-call when the tab goes away: a reload (or another tab) takes the call back; a call
    // nobody comes back to is finalized by the server's abandon timeout, timed by its audio.
    return () => {
      ctrl.abort();
      unwatch();
      running.close();
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
