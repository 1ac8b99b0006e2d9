import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { StatusBanners } from './StatusBanners';

describe('<StatusBanners>', () => {
  it('says the server is unreachable while reconnecting', () => {
    render(<StatusBanners connection="reconnecting" connectionMessage={null} everConnected providers={{}} />);
    expect(screen.getByRole('alert')).toHaveTextContent(/Server unreachable — reconnecting/);
  });

  it('shows nothing when connected and no provider is degraded', () => {
    const { container } = render(
      <StatusBanners connection="connected" connectionMessage={null} everConnected providers={{ stt: { part: 'stt', provider: 'deepgram', degraded: false, message: '' } }} />,
    );
    expect(container).toBeEmptyDOMElement();
  });

  it('shows a degraded provider as "degraded: using local engine" with its reason', () => {
    render(
      <StatusBanners
        connection="connected"
        connectionMessage={null}
        everConnected
        providers={{ stt: { part: 'stt', provider: 'local', degraded: true, message: 'deepgram is unreachable' } }}
      />,
    );
    expect(screen.getByTestId('degraded-banner')).toHaveTextContent('Speech-to-text degraded: using local engine — deepgram is unreachable');
  });

  it('explains a refused connection', () => {
    render(<StatusBanners connection="rejected" connectionMessage="unauthorized" everConnected={false} providers={{}} />);
    expect(screen.getByRole('alert')).toHaveTextContent('refused the real-time connection: unauthorized');
  });
});
