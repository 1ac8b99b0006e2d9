import { BookOpen, ClipboardList, History, LayoutDashboard, LogOut, Mic, Users } from 'lucide-react';
import type { ReactNode } from 'react';
import { useAuth } from '../lib/auth';
import { useController, useLiveState } from '../lib/live';
import { NavLink, useLocation, useNavigate } from 'react-router';
import { InsightToasts } from './Toasts';
import { LiveCallPill, StatusBanners } from './StatusBanners';

const NAV = [
  { to: '/', label: 'Dashboard', icon: LayoutDashboard },
  { to: '/live', label: 'Live call', icon: Mic },
  { to: '/calls', label: 'Call history', icon: History },
  { to: '/knowledge', label: 'Knowledge base', icon: BookOpen },
  { to: '/playbook', label: 'Playbook', icon: ClipboardList },
  { to: '/team', label: 'Team', icon: Users },
];

export function Layout({ children }: { children: ReactNode }) {
  const { pathname } = useLocation();
  const navigate = useNavigate();
  const { user, localMode, logout } = useAuth();
  const live = useLiveState();
  const controller = useController();
  const inCall = live.phase === 'live' || live.phase === 'starting' || live.phase === 'ending';

  return (
    <div className="flex min-h-screen">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-white focus:px-3 focus:py-2">
        Skip to content
      </a>
      <nav aria-label="Main" className="sticky top-0 flex h-screen w-56 shrink-0 flex-col border-r border-slate-200 bg-white">
        <div className="flex items-center gap-2 px-5 py-5">
          <img src="/favicon.svg" alt="" className="h-7 w-7" />
          <span className="text-lg font-semibold tracking-tight">Wingman</span>
        </div>
        <ul className="flex flex-1 flex-col gap-1 px-3">
          {NAV.map(({ to, label, icon: Icon }) => (
            <li key={to}>
              <NavLink
                to={to}
                end={to === '/'}
                className={({ isActive }) =>
                  `flex items-center gap-2.5 rounded-md px-3 py-2 text-sm font-medium ${isActive ? 'bg-indigo-50 text-indigo-700' : 'text-slate-600 hover:bg-slate-50 hover:text-slate-900'}`
                }
              >
                <Icon className="h-4 w-4" aria-hidden="true" />
                {label}
                {to === '/live' && inCall && <span className="ml-auto h-2 w-2 rounded-full bg-rose-500" aria-label="call in progress" />}
              </NavLink>
            </li>
          ))}
        </ul>
        <div className="border-t border-slate-100 px-4 py-4 text-sm">
          <div className="truncate font-medium text-slate-800">{user?.name || user?.email || 'Local user'}</div>
          {localMode ? (
            <div className="text-xs text-slate-500">Local mode (no sign-in)</div>
          ) : (
            <button type="button" onClick={() => void logout()} className="mt-1 flex items-center gap-1.5 rounded text-xs text-slate-500 hover:text-slate-900">
              <LogOut className="h-3.5 w-3.5" aria-hidden="true" /> Sign out
            </button>
          )}
        </div>
      </nav>
      <div className="flex min-w-0 flex-1 flex-col">
        <StatusBanners connection={live.connection} connectionMessage={live.connectionMessage} everConnected={live.everConnected} providers={live.providers} />
        {inCall && !pathname.startsWith('/live') && (
          <div className="flex justify-end px-6 pt-3">
            <LiveCallPill title={live.title} onOpen={() => navigate('/live')} />
          </div>
        )}
        <main id="main" className="mx-auto w-full max-w-7xl flex-1 px-6 py-6">
          {children}
        </main>
      </div>
      <InsightToasts insights={live.insights} active={inCall} onFeedback={(id, s) => void controller.session.feedback(id, s)} />
    </div>
  );
}
