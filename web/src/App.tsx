import { CloudOff } from 'lucide-react';
import { ErrorBoundary } from './components/ErrorBoundary';
import { Layout } from './components/Layout';
import { Button, Spinner } from './components/ui';
import { AuthProvider, useAuth } from './lib/auth';
import { LiveProvider } from './lib/live';
import { matchPath, useLocation } from './lib/router';
import { CallPage, NotFoundPage } from './pages/CallPage';
import { DashboardPage } from './pages/DashboardPage';
import { HistoryPage } from './pages/HistoryPage';
import { KnowledgePage } from './pages/KnowledgePage';
import { LivePage } from './pages/LivePage';
import { LoginPage } from './pages/LoginPage';

function Routes() {
  const { pathname } = useLocation();
  return (
    <ErrorBoundary resetKey={pathname}>
      <Page pathname={pathname} />
    </ErrorBoundary>
  );
}

function Page({ pathname }: { pathname: string }) {
  if (pathname === '/' || pathname === '/dashboard') return <DashboardPage />;
  if (matchPath('/live', pathname)) return <LivePage />;
  if (matchPath('/calls', pathname)) return <HistoryPage />;
  const call = matchPath('/calls/:id', pathname);
  if (call?.id) return <CallPage key={call.id} id={call.id} />;
  if (matchPath('/knowledge', pathname)) return <KnowledgePage />;
  return <NotFoundPage />;
}

function Gate() {
  const auth = useAuth();
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
        <CloudOff className="h-8 w-8 text-slate-400" aria-hidden="true" />
        <p className="text-lg font-medium">The Wingman server is unreachable</p>
        <p className="text-sm text-slate-500">Reconnecting… (is `make run` still running?)</p>
        <Button onClick={auth.retry}>Try now</Button>
      </div>
    );
  }
  if (auth.status === 'signed-out') return <LoginPage />;
  return (
    <LiveProvider key={auth.user?.id ?? 'user'}>
      <Layout>
        <Routes />
      </Layout>
    </LiveProvider>
  );
}

export function App() {
  return (
    <AuthProvider>
      <Gate />
    </AuthProvider>
  );
}
