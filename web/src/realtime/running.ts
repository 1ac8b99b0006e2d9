/**
 * Remembers the call this browser is streaming, so a reload or another tab can take it back:
 * localStorage (every tab of this origin) says which call runs and its audio format;
 * sessionStorage (this tab only, kept across a reload) says this tab was the one streaming it.
 * A BroadcastChannel tells the streaming tab when another one takes the call over.
 */
import type { RunningCallInfo } from './state';

const KEY = 'wingman.running-call';
const CHANNEL = 'wingman-call';

export interface RunningCall extends RunningCallInfo {
  /** whether this tab was streaming it (then a reload resumes it at once) */
  mine: boolean;
}

function parse(raw: string | null): RunningCallInfo | null {
  if (!raw) return null;
  try {
    const v = JSON.parse(raw) as Partial<RunningCallInfo>;
    if (typeof v.callId !== 'string' || typeof v.sampleRate !== 'number' || (v.channels !== 1 && v.channels !== 2)) return null;
    return { callId: v.callId, title: String(v.title ?? ''), sampleRate: v.sampleRate, channels: v.channels, encoding: v.encoding === 's16le' ? 's16le' : 'f32le' };
  } catch {
    return null;
  }
}

export class RunningCallStore {
  private channel: BroadcastChannel | null;

  constructor(
    private readonly shared: Storage = window.localStorage,
    private readonly tab: Storage = window.sessionStorage,
    makeChannel: () => BroadcastChannel | null = () => (typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel(CHANNEL)),
  ) {
    this.channel = makeChannel();
  }

  /** The call some tab was streaming when it last said so, or null. */
  load(): RunningCall | null {
    const call = parse(this.shared.getItem(KEY));
    if (!call) return null;
    return { ...call, mine: parse(this.tab.getItem(KEY))?.callId === call.callId };
  }

  /** This tab streams `call` now; others that were are told to stop. */
  claim(call: RunningCallInfo): void {
    const raw = JSON.stringify(call);
    this.shared.setItem(KEY, raw);
    this.tab.setItem(KEY, raw);
    this.channel?.postMessage({ type: 'taken', callId: call.callId });
  }

  /** The call ended (or is no longer on the server): nothing to offer any more. */
  clear(callId: string): void {
    if (parse(this.shared.getItem(KEY))?.callId === callId) this.shared.removeItem(KEY);
    if (parse(this.tab.getItem(KEY))?.callId === callId) this.tab.removeItem(KEY);
  }

  /** Another tab took this call over: `handler` stops this tab's streaming. */
  onTaken(handler: (callId: string) => void): () => void {
    const channel = this.channel;
    if (!channel) return () => undefined;
    const listen = (e: MessageEvent<{ type?: string; callId?: string }>) => {
      if (e.data?.type === 'taken' && typeof e.data.callId === 'string') {
        if (parse(this.tab.getItem(KEY))?.callId === e.data.callId) this.tab.removeItem(KEY);
        handler(e.data.callId);
      }
    };
    channel.addEventListener('message', listen);
    return () => channel.removeEventListener('message', listen);
  }

  close(): void {
    this.channel?.close();
    this.channel = null;
  }
}
