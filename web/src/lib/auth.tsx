/**
 * Who is signed in. On load we ask GET /api/auth/me: in local mode it answers without a token
 * (nothing to do); otherwise a 401 shows the sign-in page. The token lives in localStorage.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { ApiError, api, setUnauthorizedHandler } from '../api/client';
import { getToken, setToken } from '../api/token';
import type { User } from '../api/types';

export type AuthStatus = 'loading' | 'signed-in' | 'signed-out' | 'unreachable';

export interface AuthValue {
  status: AuthStatus;
  user: User | null;
  /** the server let us in without a token (WINGMAN_AUTH=local) */
  localMode: boolean;
  login(email: string, password: string): Promise<void>;
  register(email: string, name: string, password: string): Promise<void>;
  /** create the invited account (a join link's token) and sign it in */
  acceptInvitation(token: string, name: string, password: string): Promise<void>;
  logout(): Promise<void>;
  retry(): void;
}

const AuthContext = createContext<AuthValue | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [status, setStatus] = useState<AuthStatus>('loading');
  const [user, setUser] = useState<User | null>(null);
  const [localMode, setLocalMode] = useState(false);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const ctrl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    api.me(ctrl.signal).then(
      (u) => {
        setUser(u);
        setLocalMode(!getToken());
        setStatus('signed-in');
      },
      (e: unknown) => {
        if (ctrl.signal.aborted) return;
        if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
          if (getToken()) setToken(null); // stale or revoked
          setUser(null);
          setStatus('signed-out');
        } else {
          setStatus('unreachable');
          timer = setTimeout(() => setAttempt((a) => a + 1), 3000);
        }
      },
    );
    return () => {
      ctrl.abort();
      if (timer) clearTimeout(timer);
    };
  }, [attempt]);

  useEffect(() => {
    setUnauthorizedHandler(() => {
      setToken(null);
      setAttempt((a) => a + 1);
    });
    return () => setUnauthorizedHandler(null);
  }, []);

  const signedIn = useCallback((token: string, u: User) => {
    setToken(token);
    setUser(u);
    setLocalMode(false);
    setStatus('signed-in');
  }, []);

  const value = useMemo<AuthValue>(
    () => ({
      status,
      user,
      localMode,
      async login(email, password) {
        const r = await api.login({ email, password });
        signedIn(r.token, r.user);
      },
      async register(email, name, password) {
        const r = await api.register({ email, name, password });
        signedIn(r.token, r.user);
      },
      async acceptInvitation(token, name, password) {
        const r = await api.acceptInvitation({ token, name, password });
        signedIn(r.token, r.user);
      },
      async logout() {
        await api.logout().catch(() => undefined);
        setToken(null);
        setUser(null);
        setAttempt((a) => a + 1);
      },
      retry() {
        setAttempt((a) => a + 1);
      },
    }),
    [status, user, localMode, signedIn],
  );

  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthValue {
  const v = useContext(AuthContext);
  if (!v) throw new Error('useAuth outside AuthProvider');
  return v;
}

/** The signed-in user, or null (also outside an AuthProvider: pages rendered on their own). */
export function useUser(): User | null {
  return useContext(AuthContext)?.user ?? null;
}
