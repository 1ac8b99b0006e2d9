/**
 * REST and Socket.IO payload types, written from notes/CONTRACTS.md.
 *
 * REST bodies and Socket.IO payloads both use snake_case. Fields the contract marks optional or that older servers may omit are
 * optional here, so the UI never assumes them.
 */

export type FeedbackStatus = 'liked' | 'disliked' | 'none';
export type AgentName = 'coach' | 'search' | 'qa' | 'system';
export type Encoding = 'f32le' | 's16le';

// ---------------------------------------------------------------- REST

export type Role = 'admin' | 'manager' | 'rep';

export interface User {
  id: string;
  email: string;
  name: string;
  created_at?: string;
  workspace_id?: string;
  role?: Role;
  manager_id?: string | null;
}

export interface Workspace {
  id: string;
  name: string;
  created_at: string;
  role: Role;
  open_signup: boolean;
}

export interface Invitation {
  id: string;
  email: string;
  role: Role;
  manager_id: string | null;
  created_at: string;
  expires_at: string;
  expired: boolean;
}

export interface InvitationCreated {
  invitation: Invitation;
  link: string;
  emailed: boolean;
  email_error: string | null;
}

export interface InvitationLookup {
  workspace_name: string;
  email: string;
  role: Role;
  expires_at: string;
}

export interface TeamRow {
  member: User;
  stats: Stats;
}

export interface Team {
  reps: TeamRow[];
  team: Stats;
}

export interface Comment {
  id: string;
  author_name: string;
  at_seconds: number | null;
  text: string;
  created_at: string;
}

/** The playbook as GET /api/playbook returns it (objections, signals, tone: rules by key). */
export interface PlaybookRule {
  label: string;
  category: string;
  priority: number;
  patterns: string[];
  examples: string[];
  tips: string[];
  [other: string]: unknown;
}

export interface PlaybookContent {
  objections: Record<string, PlaybookRule>;
  signals: Record<string, PlaybookRule>;
  tone: Record<string, PlaybookRule>;
  [other: string]: unknown;
}

export interface PlaybookCurrent {
  version: number;
  playbook: PlaybookContent;
  author_name: string | null;
  updated_at: string | null;
}

export interface PlaybookVersion {
  version: number;
  author_name: string;
  created_at: string;
  changes: string;
  restored_from: number | null;
}

export interface AuthResponse {
  token: string;
  token_type?: string;
  expires_at?: string;
  user: User;
}

export interface RegisterRequest {
  email: string;
  name: string;
  password: string;
}

export interface LoginRequest {
  email: string;
  password: string;
}

export interface CallListItem {
  id: string;
  /** the rep whose call it is */
  user_id?: string;
  title: string;
  start_time: string;
  end_time: string | null;
  duration_seconds: number | null;
  summary: string | null;
  /** with a search: the words that matched, in context (null when only the title matched) */
  snippet?: SnippetPart[] | null;
}

export interface SnippetPart {
  text: string;
  match: boolean;
}

export interface CallList {
  items: CallListItem[];
  total: number;
}

export interface TranscriptSegment {
  id: string;
  text: string;
  speaker: string | null;
  start: number;
  end: number;
}

export interface Recommendation {
  id: string;
  content: string;
  category: string;
  agent: AgentName | string;
  kind: string;
  context_snippet: string | null;
  feedback_status: FeedbackStatus;
  created_at: string;
  source: string | null;
  entity: string | null;
  confidence?: number | null;
}

export interface KeyMoment {
  kind: string;
  text: string;
  /** seconds of call audio */
  at: number;
}

export interface CallDetail {
  id: string;
  title: string;
  start_time: string;
  end_time: string | null;
  duration_seconds?: number | null;
  summary: string | null;
  full_transcript: string | null;
  transcript: TranscriptSegment[];
  recommendations: Recommendation[];
  key_moments: KeyMoment[];
  action_items: string[];
}

/** One agent decision about one transcript block ("nothing to say" included). */
export interface AgentRun {
  id: string;
  call_session_id?: string;
  block_id: string;
  agent: string;
  input: string;
  rule_or_prompt: string;
  output: string;
  provider: string;
  latency_ms: number;
  error: string | null;
  /** the tips this run produced, when the server reports them */
  insight_ids?: string[];
  created_at: string;
}

export interface CountItem {
  /** objection kind after "objection." (e.g. "price") or competitor name */
  name: string;
  count: number;
}

export interface Stats {
  calls_this_week: number;
  minutes_this_week: number;
  total_calls: number;
  insights_shown: number;
  insights_liked: number;
  insights_disliked: number;
  /** liked + disliked */
  insights_rated?: number;
  /** liked / rated, null before any insight was rated */
  liked_share: number | null;
  top_objections: CountItem[];
  top_competitors: CountItem[];
  /** 0..1, null when no call had both speakers */
  avg_rep_talk_ratio: number | null;
}

export interface KnowledgeDocument {
  id: string;
  filename: string;
  title?: string | null;
  content_type?: string | null;
  size_bytes?: number | null;
  /** where it came from: "upload", "sample", a path ... */
  source?: string | null;
  chunk_count?: number | null;
  created_at?: string | null;
}

/** One part (stt | llm | search) in GET /api/providers. */
export interface ProviderPart {
  part: string;
  configured: string;
  /** the provider in use now */
  active: string;
  fallback: string | null;
  degraded: boolean;
  degraded_since: string | null;
  key_configured: boolean | null;
  failovers: number;
  recent_errors: { at: string; provider: string; code: string; message: string }[];
}

export interface ProvidersResponse {
  parts: ProviderPart[];
}

export interface Health {
  status: 'ok' | 'degraded';
  database: boolean;
  auth: 'local' | 'required';
  version: string;
}

// ---------------------------------------------------------------- Socket.IO

export interface StartCallRequest {
  title: string;
  sample_rate: number;
  encoding: Encoding;
  channels: 1 | 2;
  call_id?: string;
}

export interface SocketError {
  code: string;
  message: string;
}

/** A resume's ack says up to where (call time, seconds) the server has the call's audio. */
export type StartCallAck = { call_id: string; audio_seconds?: number } | { error: SocketError };

export type EndCallAck = CallEndedEvent | { error: SocketError };

export interface TranscriptEvent {
  id: string;
  text: string;
  is_final: boolean;
  speaker: string | null;
  start: number;
  end: number;
}

export interface InsightEvent {
  id: string;
  content: string;
  category: string;
  agent: AgentName | string;
  context_snippet?: string | null;
  created_at?: string | null;
  kind?: string | null;
  source?: string | null;
  entity?: string | null;
  confidence?: number | null;
  provider?: string | null;
}

export interface MetricsEvent {
  rep_talk_ratio: number | null;
  rep_seconds: number;
  customer_seconds: number;
  longest_monologue_seconds: number;
  rep_questions: number;
  customer_questions: number;
}

export interface FeedbackRequest {
  id: string;
  status: FeedbackStatus;
}

export interface CallEndedEvent {
  call_id: string;
  summary: string;
  key_moments: KeyMoment[];
  action_items: string[];
}

export interface ProviderStatusEvent {
  part: string;
  /** the provider in use from now on ("local" after a failover) */
  provider: string;
  degraded: boolean;
  message: string;
}
