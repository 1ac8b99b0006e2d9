/**
 * Whether the live Insights panel is on screen, so the toasts show only when it is not (they
 * would repeat its cards, or cover them), and the L / D shortcuts for the newest tip.
 */
import { createContext, useContext, useEffect, useRef, useState, type ReactNode, type RefObject } from 'react';
import type { FeedbackStatus } from '../api/types';

const PanelContext = createContext<{ visible: boolean; setVisible: (v: boolean) => void }>({ visible: false, setVisible: () => undefined });

export function InsightsPanelProvider({ children }: { children: ReactNode }) {
  const [visible, setVisible] = useState(false);
  return <PanelContext.Provider value={{ visible, setVisible }}>{children}</PanelContext.Provider>;
}

/** True while any part of the live Insights panel is in the viewport. */
export function useInsightsPanelVisible(): boolean {
  return useContext(PanelContext).visible;
}

/** Attach to the live Insights panel: reports whether it is in view (not while unmounted). */
export function useReportPanelVisibility<T extends Element>(): RefObject<T | null> {
  const ref = useRef<T>(null);
  const { setVisible } = useContext(PanelContext);
  useEffect(() => {
    const el = ref.current;
    if (!el || typeof IntersectionObserver === 'undefined') return;
    const observer = new IntersectionObserver((entries) => {
      const entry = entries[entries.length - 1];
      if (entry) setVisible(entry.isIntersecting);
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
      setVisible(false);
    };
  }, [setVisible]);
  return ref;
}

/** Whether a key press belongs to a text field (then it is typing, not a shortcut). */
function typing(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName);
}

/** L likes and D dislikes the newest tip (pressed again: cleared), anywhere but in a text field. */
export function useTipShortcuts(
  newest: { id: string; feedback: FeedbackStatus } | undefined,
  rate: (id: string, status: FeedbackStatus) => void,
  enabled: boolean,
): void {
  const latest = useRef({ newest, rate });
  latest.current = { newest, rate };
  useEffect(() => {
    if (!enabled) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.altKey || e.ctrlKey || e.metaKey || e.repeat || typing(e.target)) return;
      const key = e.key.toLowerCase();
      const wanted: FeedbackStatus | null = key === 'l' ? 'liked' : key === 'd' ? 'disliked' : null;
      const tip = latest.current.newest;
      if (!wanted || !tip) return;
      e.preventDefault();
      latest.current.rate(tip.id, tip.feedback === wanted ? 'none' : wanted);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [enabled]);
}
