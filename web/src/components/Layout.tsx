import { BookOpen, Building2, ClipboardList, History, LayoutDashboard, LogOut, Menu, Mic, Settings, Users, X } from 'lucide-react';
import { useEffect, useState, type ReactNode } from 'react';
import { NavLink, useLocation, useNavigate } from 'react-router';
import { useAuth } from '../lib/auth';
import { useInsightsPanelVisible, useTipShortcuts } from '../lib/insightsView';
import { useController, useLiveState } from '../lib/live';
import { RunningCallOffer } from './RunningCallOffer';
import { LiveCallPill, StatusBanners } from './StatusBanners';
import { InsightToasts } from './Toasts';

const NAV = [
  { to: '/', label: 'Dashboard', icon: LayoutDashboard },
  { to: '/live', label: 'Live call', icon: Mic },
  { to: '/calls', label: 'Call history', icon: History },
  { to: '/knowledge', label: 'Knowledge base', icon: BookOpen },
  { to: '/playbook', label: 'Playbook', icon: ClipboardList },
  { to: '/team', label: 'Team', icon: Users },
  { to: '/profile', label: 'Company', icon: Building2 },
  { to: '/settings', label: 'Settings', icon: Settings },
];

function Brand() {
  return (
    <span className="flex items-center gap-2">
      <img src="/favicon.svg" alt="" className="h-7 w-7" />
      <span className="text-lg font-semibold tracking-tight">Wingman</span>
    </span>
  );
}

/** The app's frame: a sidebar from 1024 px, below that a top bar whose menu opens the links. */
export function Layout({ children }: { children: ReactNode }) {
  const { pathname } = useLocation();
  const navigate = useNavigate();
  const { user, localMode, logout } = useAuth();
  const live = useLiveState();
  const controller = useController();
  const panelVisible = useInsightsPanelVisible();
  const [menuOpen, setMenuOpen] = useState(false);
  const inCall = live.phase === 'live' || live.phase === 'starting' || live.phase === 'ending';
  const rate = (id: string, s: Parameters<typeof controller.session.feedback>[1]) => void controller.session.feedback(id, s);
  useTipShortcuts(live.insights[live.insights.length - 1], rate, inCall);

  useEffect(() => setMenuOpen(false), [pathname]);

  return (
    <div className="min-h-screen lg:flex">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-white focus:px-3 focus:py-2">
        Skip to content
      </a>
      <header className="sticky top-0 z-30 flex items-center justify-between gap-2 border-b border-slate-200 bg-white px-4 py-2 lg:hidden">
        <Brand />
        <button
          type="button"
          aria-expanded={menuOpen}
          aria-controls="main-nav"
          onClick={() => setMenuOpen((o) => !o)}
          className="inline-flex items-center gap-1.5 rounded-md border border-slate-300 px-3 py-1.5 text-sm font-medium text-slate-700"
        >
          {menuOpen ? <X className="h-4 w-4" aria-hidden="true" /> : <Menu className="h-4 w-4" aria-hidden="true" />}
          Menu
          {inCall && <span className="h-2 w-2 rounded-full bg-rose-500" aria-label="call in progress" />}
        </button>
      </header>
      <nav
        id="main-nav"
        aria-label="Main"
        className={`${menuOpen ? 'flex' : 'hidden'} flex-col border-b border-slate-200 bg-white lg:sticky lg:top-0 lg:flex lg:h-screen lg:w-56 lg:shrink-0 lg:border-b-0 lg:border-r`}
      >
        <div className="hidden px-5 py-5 lg:block">
          <Brand />
        </div>
        <ul className="flex flex-col gap-1 px-3 py-2 lg:flex-1 lg:py-0">
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
            <div className="text-xs text-slate-600">Local mode (no sign-in)</div>
          ) : (
            <button type="button" onClick={() => void logout()} className="mt-1 flex items-center gap-1.5 rounded text-xs text-slate-600 hover:text-slate-900">
              <LogOut className="h-3.5 w-3.5" aria-hidden="true" /> Sign out
            </button>
          )}
        </div>
      </nav>
      <div className="flex min-w-0 flex-1 flex-col">
        <StatusBanners connection={live.connection} connectionMessage={live.connectionMessage} everConnected={live.everConnected} providers={live.providers} />
        <RunningCallOffer />
        {inCall && !pathname.startsWith('/live') && (
          <div className="flex justify-end px-4 pt-3 sm:px-6">
            <LiveCallPill title={live.title} onOpen={() => navigate('/live')} />
          </div>
        )}
        <main id="main" tabIndex={-1} className="mx-auto w-full max-w-7xl flex-1 px-4 py-4 sm:px-6 sm:py-6">
          {children}
        </main>
      </div>
      <InsightToasts insights={live.insights} active={inCall && !panelVisible} onFeedback={rate} />
    </div>
  );
}
