import { QueryClientProvider } from '@tanstack/react-query';
import { CloudOff } from 'lucide-react';
import { useState } from 'react';
import { BrowserRouter, Route, Routes, useLocation, useParams } from 'react-router';
import { ErrorBoundary } from './components/ErrorBoundary';
import { Layout } from './components/Layout';
import { Button, Spinner } from './components/ui';
import { AuthProvider, useAuth } from './lib/auth';
import { InsightsPanelProvider } from './lib/insightsView';
import { LiveProvider } from './lib/live';
import { createQueryClient } from './lib/query';
import { CallPage, NotFoundPage } from './pages/CallPage';
import { DashboardPage } from './pages/DashboardPage';
import { HistoryPage } from './pages/HistoryPage';
import { KnowledgePage } from './pages/KnowledgePage';
import { LivePage } from './pages/LivePage';
import { JoinPage } from './pages/JoinPage';
import { LoginPage } from './pages/LoginPage';
import { PlaybookPage } from './pages/PlaybookPage';
import { TeamPage } from './pages/TeamPage';
import { ProfilePage } from './pages/ProfilePage';
import { SettingsPage } from './pages/SettingsPage';

/** The pages by URL; the URLs are the ones the app always had (bookmarks and e2e tests rely on them). */
export function AppRoutes() {
  const { pathname } = useLocation();
  return (
    <ErrorBoundary resetKey={pathname}>
      <Routes>
        <Route path="/" element={<DashboardPage />} />
        <Route path="/dashboard" element={<DashboardPage />} />
        <Route path="/live" element={<LivePage />} />
        <Route path="/calls" element={<HistoryPage />} />
        <Route path="/calls/:id" element={<CallRoute />} />
        <Route path="/knowledge" element={<KnowledgePage />} />
        <Route path="/team" element={<TeamPage />} />
        <Route path="/playbook" element={<PlaybookPage />} />
        <Route path="/join" element={<JoinPage />} />
        <Route path="/profile" element={<ProfilePage />} />
        <Route path="/settings" element={<SettingsPage />} />
        <Route path="*" element={<NotFoundPage />} />
      </Routes>
    </ErrorBoundary>
  );
}

function CallRoute() {
  const { id = '' } = useParams();
  return <CallPage key={id} id={id} />;
}

function Gate() {
  const auth = useAuth();
  const { pathname } = useLocation();
  if (auth.status === 'loading') {
    return (
      <div className="flex min-h-screen items-center justify-center">
        <Spinner label="Connecting to Wingman" />
      </div>
    );
  }
  if (auth.status === 'unreachable') {
    return (
      <div role="alert" className="flex min-h-screen flex-col items-center justify-center gap-3 text-center">
        <CloudOff className="h-8 w-8 text-slate-500" aria-hidden="true" />
        <p className="text-lg font-medium">The Wingman server is unreachable</p>
        <p className="text-sm text-slate-500">Reconnecting… (is `make run` still running?)</p>
        <Button onClick={auth.retry}>Try now</Button>
      </div>
    );
  }
  if (auth.status === 'signed-out') return pathname === '/join' ? <JoinPage /> : <LoginPage />;
  return (
    <LiveProvider key={auth.user?.id ?? 'user'}>
      <InsightsPanelProvider>
        <Layout>
          <AppRoutes />
        </Layout>
      </InsightsPanelProvider>
    </LiveProvider>
  );
}

export function App() {
  const [queryClient] = useState(createQueryClient);
  return (
    <QueryClientProvider client={queryClient}>
      <BrowserRouter>
        <AuthProvider>
          <Gate />
        </AuthProvider>
      </BrowserRouter>
    </QueryClientProvider>
  );
}
