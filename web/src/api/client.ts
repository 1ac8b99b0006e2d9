/** Typed client for Wingman's REST API (see notes/CONTRACTS.md). */
import { getToken } from './token';
import type {
  AgentRun,
  AuthResponse,
  CallDetail,
  Comment,
  Invitation,
  InvitationCreated,
  InvitationLookup,
  PlaybookContent,
  PlaybookCurrent,
  PlaybookVersion,
  Role,
  Team,
  Workspace,
  CallList,
  FeedbackStatus,
  Health,
  KnowledgeDocument,
  LoginRequest,
  ProvidersResponse,
  RegisterRequest,
  Stats,
  User,
} from './types';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** each thing wrong, when the server names several (an invalid playbook's bad triggers) */
  readonly problems: string[];

  constructor(status: number, code: string, message: string, problems: string[] = []) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.problems = problems;
  }

  /** true when the server could not be reached at all */
  get unreachable(): boolean {
    return this.status === 0;
  }
}

type UnauthorizedHandler = () => void;
let onUnauthorized: UnauthorizedHandler | null = null;

/** Called on any 401 so the app can drop a stale token and show the sign-in page. */
export function setUnauthorizedHandler(handler: UnauthorizedHandler | null): void {
  onUnauthorized = handler;
}

/** Pulls a readable message out of FastAPI's `{detail}` or our `{error:{code,message}}`. */
export function errorFromBody(status: number, body: unknown): ApiError {
  let code = `http_${status}`;
  let message = `Request failed (${status})`;
  let problems: string[] = [];
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    if (Array.isArray(b.problems)) problems = b.problems.filter((p): p is string => typeof p === 'string');
    const err = b.error;
    if (err && typeof err === 'object') {
      const e = err as Record<string, unknown>;
      if (typeof e.code === 'string') code = e.code;
      if (typeof e.message === 'string') message = e.message;
    } else if (typeof b.detail === 'string') {
      message = b.detail;
      if (typeof b.code === 'string') code = b.code;
    } else if (Array.isArray(b.detail) && b.detail.length > 0) {
      // pydantic validation errors: [{loc, msg}]
      const first = b.detail[0] as Record<string, unknown>;
      if (typeof first.msg === 'string') message = first.msg;
      code = 'invalid';
    } else if (typeof b.message === 'string') {
      message = b.message;
    }
  } else if (typeof body === 'string' && body.trim()) {
    message = body.trim().slice(0, 200);
  }
  return new ApiError(status, code, message, problems);
}

interface RequestOptions {
  method?: string;
  json?: unknown;
  form?: FormData;
  /** a raw body with its content type (the voice check's WAV) */
  blob?: Blob;
  signal?: AbortSignal;
  /** don't treat 401 as "signed out" (used by the sign-in probe itself) */
  quiet401?: boolean;
}

export async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  let body: BodyInit | undefined;
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.form) {
    body = opts.form; // the browser sets the multipart boundary
  } else if (opts.blob) {
    headers['Content-Type'] = opts.blob.type;
    body = opts.blob;
  }
  let res: Response;
  try {
    res = await fetch(path, {
      method: opts.method ?? (body ? 'POST' : 'GET'),
      headers,
      body,
      signal: opts.signal,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'unreachable', 'The Wingman server cannot be reached.');
  }
  const text = await res.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (!res.ok) {
    if (res.status === 401 && !opts.quiet401) onUnauthorized?.();
    throw errorFromBody(res.status, parsed);
  }
  return parsed as T;
}

/** Some list endpoints answer with a bare array, others with `{items}`; accept both. */
function items<T>(body: T[] | { items: T[] } | null): T[] {
  if (Array.isArray(body)) return body;
  return body?.items ?? [];
}

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

export const api = {
  register: (body: RegisterRequest) =>
    request<AuthResponse>('/api/auth/register', { json: body, quiet401: true }),
  login: (body: LoginRequest) =>
    request<AuthResponse>('/api/auth/login', { json: body, quiet401: true }),
  logout: () => request<unknown>('/api/auth/logout', { method: 'POST', quiet401: true }),
  me: (signal?: AbortSignal) => request<User>('/api/auth/me', { signal, quiet401: true }),
  health: () => request<Health>('/api/health'),

  listCalls: (
    params: { q?: string; limit?: number; offset?: number; rep?: string; since?: string; until?: string; competitor?: string; objection?: string },
    signal?: AbortSignal,
  ) =>
    request<CallList>(`/api/calls${query(params)}`, { signal }),
  getCall: (id: string, signal?: AbortSignal) =>
    request<CallDetail>(`/api/calls/${encodeURIComponent(id)}`, { signal }),
  agentRuns: async (id: string, signal?: AbortSignal) =>
    items(
      await request<AgentRun[] | { items: AgentRun[] }>(
        `/api/calls/${encodeURIComponent(id)}/agent-runs`,
        { signal },
      ),
    ),
  stats: (signal?: AbortSignal) => request<Stats>('/api/stats', { signal }),
  setFeedback: (recommendationId: string, status: FeedbackStatus) =>
    request<unknown>(`/api/recommendations/${encodeURIComponent(recommendationId)}/feedback`, {
      json: { status },
    }),

  listKnowledge: async (signal?: AbortSignal) =>
    items(
      await request<KnowledgeDocument[] | { items: KnowledgeDocument[] }>('/api/knowledge', {
        signal,
      }),
    ),
  uploadKnowledge: (file: File) => {
    const form = new FormData();
    form.append('file', file, file.name);
    return request<KnowledgeDocument>('/api/knowledge', { form });
  },
  deleteKnowledge: (id: string) =>
    request<unknown>(`/api/knowledge/${encodeURIComponent(id)}`, { method: 'DELETE' }),

  providers: (signal?: AbortSignal) => request<ProvidersResponse>('/api/providers', { signal }),

  voiceprint: (signal?: AbortSignal) => request<Voiceprint>('/api/voiceprint', { signal }),
  enrollVoice: (wav: Blob) => request<Voiceprint>('/api/voiceprint', { method: 'POST', blob: wav }),
  forgetVoice: () => request<Voiceprint>('/api/voiceprint', { method: 'DELETE' }),

  // -- workspaces (README "Workspaces, roles and invitations")
  workspace: (signal?: AbortSignal) => request<Workspace>('/api/workspace', { signal }),
  members: (signal?: AbortSignal) => request<User[]>('/api/members', { signal }),
  updateMember: (id: string, body: { role?: Role; manager_id?: string; clear_manager?: boolean }) =>
    request<User>(`/api/members/${encodeURIComponent(id)}`, { method: 'PATCH', json: body }),
  removeMember: (id: string) => request<unknown>(`/api/members/${encodeURIComponent(id)}`, { method: 'DELETE' }),
  invitations: (signal?: AbortSignal) => request<Invitation[]>('/api/invitations', { signal }),
  invite: (body: { email: string; role: Role; manager_id?: string }) =>
    request<InvitationCreated>('/api/invitations', { json: body }),
  revokeInvitation: (id: string) =>
    request<unknown>(`/api/invitations/${encodeURIComponent(id)}`, { method: 'DELETE' }),
  lookupInvitation: (token: string, signal?: AbortSignal) =>
    request<InvitationLookup>(`/api/invitations/lookup${query({ token })}`, { signal, quiet401: true }),
  acceptInvitation: (body: { token: string; name: string; password: string }) =>
    request<AuthResponse>('/api/invitations/accept', { json: body, quiet401: true }),
  team: (signal?: AbortSignal) => request<Team>('/api/team', { signal }),
  comments: (callId: string, signal?: AbortSignal) =>
    request<Comment[]>(`/api/calls/${encodeURIComponent(callId)}/comments`, { signal }),
  addComment: (callId: string, body: { text: string; at_seconds?: number }) =>
    request<Comment>(`/api/calls/${encodeURIComponent(callId)}/comments`, { json: body }),
  playbook: (signal?: AbortSignal) => request<PlaybookCurrent>('/api/playbook', { signal }),
  savePlaybook: (playbook: PlaybookContent, baseVersion: number) =>
    request<PlaybookVersion>('/api/playbook', { method: 'PUT', json: { playbook, base_version: baseVersion } }),
  playbookVersions: (signal?: AbortSignal) => request<PlaybookVersion[]>('/api/playbook/versions', { signal }),
  restorePlaybook: (version: number, baseVersion: number) =>
    request<PlaybookVersion>(`/api/playbook/versions/${version}/restore`, { json: { base_version: baseVersion } }),
};

/** The user's voice check (speakers): which voice is the rep on one-channel calls. */
export interface Voiceprint {
  enrolled: boolean;
  seconds: number | null;
  created_at: string | null;
  min_seconds: number;
}
