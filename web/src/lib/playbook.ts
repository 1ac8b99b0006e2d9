/**
 * The playbook editor's rules, checked before a save: what the server would refuse (no tip, a
 * priority out of range, a bad rule key) and what it would take but never use (a rule with no
 * trigger phrase and no example sentence, a nudge tip with a placeholder that is never filled).
 * The server still validates everything (regular expressions included); its `problems` come
 * back keyed the same way, so each one is shown on the rule it names.
 */
import type { PlaybookContent, PlaybookRule } from '../api/types';

export const FAMILIES = [
  { key: 'objections', title: 'Objections', category: 'Objection Handling' },
  { key: 'signals', title: 'Buying signals', category: 'Buying Signal' },
  { key: 'tone', title: 'Tone', category: 'Tone' },
] as const;
export type Family = (typeof FAMILIES)[number]['key'];

export interface PlaybookNudge {
  label: string;
  category: string;
  priority: number;
  tips: string[];
  [threshold: string]: unknown;
}

/** Each nudge: its thresholds (name, label, unit, bounds) and the placeholders its tips may use. */
export const NUDGES = [
  {
    key: 'talk_ratio',
    title: 'Talking too much',
    fields: [
      { name: 'max_ratio', label: 'Nudge above this share of talk time', min: 0.05, max: 1, step: 0.05, integer: false },
      { name: 'min_seconds', label: 'Only after this many seconds of conversation', min: 0, max: 3600, step: 5, integer: false },
    ],
    placeholders: ['ratio'],
  },
  {
    key: 'monologue',
    title: 'Long monologue',
    fields: [{ name: 'max_seconds', label: 'Seconds of the rep talking without a break', min: 5, max: 3600, step: 5, integer: false }],
    placeholders: ['seconds'],
  },
  {
    key: 'questions',
    title: 'Too few questions',
    fields: [
      { name: 'after_seconds', label: 'Check after this many seconds of the call', min: 0, max: 7200, step: 10, integer: false },
      { name: 'min_questions', label: 'Questions the rep should have asked by then', min: 0, max: 100, step: 1, integer: true },
    ],
    placeholders: ['questions'],
  },
] as const;
export type NudgeKey = (typeof NUDGES)[number]['key'];

/** A rule key as the server takes it: lower case letters, digits and underscores. */
export const RULE_KEY = /^[a-z][a-z0-9_]{0,39}$/;

/** "Procurement delay!" -> "procurement_delay" */
export function ruleKey(label: string): string {
  const key = label
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^[_0-9]+|_+$/g, '')
    .slice(0, 40)
    .replace(/_+$/, '');
  return key;
}

export function newRule(family: Family, label: string): PlaybookRule {
  const category = FAMILIES.find((f) => f.key === family)?.category ?? 'Tip';
  return { label, category, priority: 0.5, patterns: [], examples: [], tips: [] };
}

export type Problems = Record<string, string[]>;

function add(out: Problems, where: string, message: string): void {
  (out[where] ??= []).push(message);
}

function checkCommon(out: Problems, where: string, r: { label: string; category: string; priority: number; tips: string[] }): void {
  if (!r.label.trim()) add(out, where, 'Give it a name: the rep sees it as the tip’s title.');
  if (!r.category.trim()) add(out, where, 'Give it a category.');
  if (!Number.isFinite(r.priority) || r.priority < 0 || r.priority > 1) add(out, where, 'Priority is a number from 0 to 1.');
  if (r.tips.length === 0) add(out, where, 'Write at least one tip.');
}

/** Problems to fix before saving, by rule ("objections.price", "nudges.talk_ratio"). */
export function checkPlaybook(playbook: PlaybookContent): Problems {
  const out: Problems = {};
  for (const { key: family } of FAMILIES) {
    for (const [key, rule] of Object.entries(playbook[family] ?? {})) {
      const where = `${family}.${key}`;
      if (!RULE_KEY.test(key)) add(out, where, `“${key}” is not a usable key: lower case letters, digits and _.`);
      checkCommon(out, where, rule);
      if (rule.patterns.length === 0 && rule.examples.length === 0) {
        add(out, where, 'Add a trigger phrase or an example sentence: without either the rule never fires.');
      }
    }
  }
  const nudges = (playbook.nudges ?? {}) as Record<string, PlaybookNudge | undefined>;
  for (const spec of NUDGES) {
    const nudge = nudges[spec.key];
    if (!nudge) continue;
    const where = `nudges.${spec.key}`;
    checkCommon(out, where, nudge);
    for (const f of spec.fields) {
      const v = nudge[f.name];
      if (typeof v !== 'number' || !Number.isFinite(v) || v < f.min || v > f.max || (f.integer && !Number.isInteger(v))) {
        add(out, where, `${f.label}: ${f.integer ? 'a whole number' : 'a number'} from ${f.min} to ${f.max}.`);
      }
    }
    for (const tip of nudge.tips) {
      for (const m of tip.matchAll(/\{([^{}:!]*)[^{}]*\}/g)) {
        const name = m[1] ?? '';
        if (!(spec.placeholders as readonly string[]).includes(name)) {
          add(out, where, `“{${name}}” is not filled in; this nudge’s tips can use ${spec.placeholders.map((p) => `{${p}}`).join(', ')}.`);
        }
      }
    }
  }
  return out;
}

/** The server's problems ("objections.price.patterns[0]: bad regular expression ...") by rule. */
export function problemsByRule(problems: readonly string[]): Problems {
  const out: Problems = {};
  for (const p of problems) {
    const m = /^(objections|signals|tone|nudges)\.([^.[:\s]+)/.exec(p);
    add(out, m ? `${m[1]}.${m[2]}` : 'playbook', p);
  }
  return out;
}
