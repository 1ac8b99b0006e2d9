/** The live session's state and the socket surface it uses (realtime/session.ts owns both). */
import type { SentimentEvent } from '../api/after';
import type { CallEndedEvent, Encoding, MetricsEvent, ProviderStatusEvent, SocketError } from '../api/types';
import type { LiveInsight } from './insights';
import type { TranscriptLine } from './transcript';

/** The part of socket.io-client's Socket this module uses. */
/* eslint-disable @typescript-eslint/no-explicit-any */
export interface SocketLike {
  readonly connected: boolean;
  readonly active: boolean;
  on(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener?: (...args: any[]) => void): unknown;
  emit(event: string, ...args: any[]): unknown;
  timeout(ms: number): { emit(event: string, ...args: any[]): unknown };
  connect(): unknown;
  disconnect(): unknown;
}

export type Connection = 'connecting' | 'connected' | 'reconnecting' | 'rejected';
export type Phase = 'idle' | 'starting' | 'live' | 'ending' | 'ended';

export interface LiveState {
  connection: Connection;
  connectionMessage: string | null;
  everConnected: boolean;
  phase: Phase;
  callId: string | null;
  title: string;
  startedAt: number | null;
  format: { sampleRate: number; channels: 1 | 2; encoding: Encoding } | null;
  transcript: TranscriptLine[];
  insights: LiveInsight[];
  metrics: MetricsEvent | null;
  /** the customer's sentiment per final segment, in call order (the `sentiment` event) */
  sentiment: SentimentEvent[];
  ended: CallEndedEvent | null;
  providers: Record<string, ProviderStatusEvent>;
  lastError: SocketError | null;
  /** times this call was resumed after a reconnect */
  resumes: number;
  /** seconds of audio held back while the socket was down */
  bufferedSeconds: number;
  /** the last call moved to another tab (this one stopped sending) */
  handedOff: boolean;
}

/** A call running on the server, as a page needs it to take the call over. */
export interface RunningCallInfo {
  callId: string;
  title: string;
  sampleRate: number;
  channels: 1 | 2;
  encoding: Encoding;
}

export const initialState: LiveState = {
  connection: 'connecting',
  connectionMessage: null,
  everConnected: false,
  phase: 'idle',
  callId: null,
  title: '',
  startedAt: null,
  format: null,
  transcript: [],
  insights: [],
  metrics: null,
  sentiment: [],
  ended: null,
  providers: {},
  lastError: null,
  resumes: 0,
  bufferedSeconds: 0,
  handedOff: false,
};

/** What a new (or taken-over) call starts from. */
export const CALL_BLANK = {
  startedAt: null,
  transcript: [],
  insights: [],
  metrics: null,
  sentiment: [],
  ended: null,
  lastError: null,
  resumes: 0,
  bufferedSeconds: 0,
  handedOff: false,
} satisfies Partial<LiveState>;

