/** REST calls for what comes after a call: CRM sync, sentiment, follow-up draft, trends. */
import { request } from './client';

export type CrmProvider = 'hubspot' | 'salesforce';

export interface CrmStatus {
  provider: CrmProvider;
  label: string;
  configured: boolean;
  status: 'not_connected' | 'connected' | 'needs_reconnect';
  account: string | null;
  auto_sync: boolean;
  /** whether the signed-in user may connect, disconnect or configure it (workspace admins) */
  can_manage: boolean;
}

export interface CrmTarget {
  kind: 'contact' | 'company' | 'deal';
  id: string;
  name: string;
  related: Record<string, string>;
}

export interface CallSync {
  provider: CrmProvider;
  label: string;
  status: 'pending' | 'running' | 'done' | 'failed' | 'no_match' | 'needs_reconnect';
  message: string;
  attempts: number;
  target: CrmTarget | null;
  written: number;
  updated_at: string;
}

export interface SentimentPoint {
  segment_id: string;
  start: number;
  end: number;
  text: string;
  score: number;
  label: 'positive' | 'neutral' | 'negative';
  saved: boolean;
}

/** A final customer segment's sentiment, live over Socket.IO. */
export interface SentimentEvent {
  id: string;
  score: number;
  label: 'positive' | 'neutral' | 'negative';
  start: number;
  end: number;
}

export interface EmailDraft {
  to: string | null;
  subject: string;
  body: string;
}

export type TrendRange = 'week' | 'month' | 'quarter';

export interface TrendBucket {
  start: string;
  calls: number;
  minutes: number;
  tips_shown: number;
  tips_liked: number;
  objections: Record<string, number>;
  competitors: Record<string, number>;
}

export interface CallTrend {
  id: string;
  title: string;
  start_time: string;
  minutes: number | null;
  rep_talk_ratio: number | null;
}

/** One rep's figures over the range, in a team's trends. */
export interface RepTrend {
  user_id: string;
  name: string;
  calls: number;
  minutes: number;
  rep_talk_ratio: number | null;
  objections: number;
  tips_shown: number;
  tips_liked: number;
  /** aligned with Trends.buckets */
  calls_per_bucket: number[];
}

/** Whose trends: the caller's own ('me'), their team ('team'), or one rep's id. */
export type TrendScope = string;

export interface Trends {
  range: TrendRange;
  bucket: 'day' | 'week';
  since: string;
  scope: TrendScope;
  buckets: TrendBucket[];
  calls: CallTrend[];
  reps: RepTrend[];
}

/** The workspace's recording choice (opt-in; only admins change it). */
export interface RecordingSettings {
  enabled: boolean;
  retention_days: number | null;
  codec: string;
  can_manage: boolean;
  updated_at: string | null;
}

/** A call's recording and, when ready, a short-lived signed link to play it. */
export interface Recording {
  status: 'not_recorded' | 'recording' | 'processing' | 'ready' | 'failed' | 'deleted';
  media_type: string | null;
  seconds: number | null;
  size_bytes: number | null;
  url: string | null;
  url_expires_at: string | null;
  created_at: string | null;
  deletes_at: string | null;
  deleted_reason: 'retention' | 'deleted' | null;
  can_delete: boolean;
}

const enc = encodeURIComponent;

/** A call's summary as edited on the call page (GET/PUT/DELETE /api/calls/{id}/summary). */
export interface CallSummary {
  call_id: string;
  /** 0: never edited; sent back with an edit (a stale one gets 409) */
  version: number;
  text: string;
  action_items: string[];
  edited: boolean;
  edited_by_name: string | null;
  edited_at: string | null;
  generated_text: string;
  generated_action_items: string[];
}

export const afterApi = {
  summary: (callId: string, signal?: AbortSignal) => request<CallSummary>(`/api/calls/${enc(callId)}/summary`, { signal }),
  saveSummary: (callId: string, body: { text: string; action_items: string[]; version: number }) =>
    request<CallSummary>(`/api/calls/${enc(callId)}/summary`, { method: 'PUT', json: body }),
  revertSummary: (callId: string, version: number) =>
    request<CallSummary>(`/api/calls/${enc(callId)}/summary?version=${version}`, { method: 'DELETE' }),
  crms: (signal?: AbortSignal) => request<CrmStatus[]>('/api/crm', { signal }),
  connect: (provider: CrmProvider) =>
    request<{ authorize_url: string }>(`/api/crm/${provider}/connect`, { method: 'POST' }),
  disconnect: (provider: CrmProvider) => request<unknown>(`/api/crm/${provider}`, { method: 'DELETE' }),
  setAutoSync: (provider: CrmProvider, autoSync: boolean) =>
    request<CrmStatus[]>(`/api/crm/${provider}`, { method: 'PUT', json: { auto_sync: autoSync } }),
  searchCrm: (provider: CrmProvider, q: string) =>
    request<CrmTarget[]>(`/api/crm/${provider}/search?q=${enc(q)}`),
  callSyncs: (callId: string, signal?: AbortSignal) => request<CallSync[]>(`/api/calls/${enc(callId)}/crm`, { signal }),
  syncCall: (callId: string, provider: CrmProvider, body: { target?: CrmTarget; email?: string; company?: string } = {}) =>
    request<CallSync[]>(`/api/calls/${enc(callId)}/crm/${provider}`, { method: 'POST', json: body }),
  sentiment: (callId: string, signal?: AbortSignal) =>
    request<SentimentPoint[]>(`/api/calls/${enc(callId)}/sentiment`, { signal }),
  followUp: (callId: string, signal?: AbortSignal) => request<EmailDraft>(`/api/calls/${enc(callId)}/follow-up`, { signal }),
  recordingSettings: (signal?: AbortSignal) => request<RecordingSettings>('/api/recordings/settings', { signal }),
  saveRecordingSettings: (body: { enabled: boolean; retention_days: number | null; consent_confirmed: boolean }) =>
    request<RecordingSettings>('/api/recordings/settings', { method: 'PUT', json: body }),
  recording: (callId: string, signal?: AbortSignal) => request<Recording>(`/api/calls/${enc(callId)}/recording`, { signal }),
  deleteRecording: (callId: string) => request<unknown>(`/api/calls/${enc(callId)}/recording`, { method: 'DELETE' }),
  trends: (range: TrendRange, signal?: AbortSignal, rep: TrendScope = 'me') =>
    request<Trends>(`/api/trends?range=${range}${rep === 'me' ? '' : `&rep=${enc(rep)}`}`, { signal }),
};
