/** One talk-time nudge of the playbook (talking too much, a long monologue, too few questions):
 * when it fires and what it tells the rep. */
import type { PlaybookNudge } from '../../lib/playbook';
import { NUDGES } from '../../lib/playbook';
import { Badge, Card } from '../ui';
import { LinesField, NumberField, ProblemList, TextField } from './fields';

type Spec = (typeof NUDGES)[number];

export function NudgeEditor({ spec, nudge, readOnly, problems, onChange }: {
  spec: Spec;
  nudge: PlaybookNudge;
  readOnly: boolean;
  problems?: readonly string[];
  onChange: (n: PlaybookNudge) => void;
}) {
  const id = `nudges.${spec.key}`;
  const placeholders = spec.placeholders.map((p) => `{${p}}`).join(', ');
  return (
    <div data-testid={`rule-${id}`} className="mb-3">
      <Card title={<span>{spec.title} <Badge>{id}</Badge></span>}>
        <ProblemList name={id} problems={problems} />
        <div className="grid gap-3 md:grid-cols-3">
          <TextField name={`${id} name`} label="Name" value={nudge.label} readOnly={readOnly} onChange={(v) => onChange({ ...nudge, label: v })} />
          <TextField name={`${id} category`} label="Category" value={nudge.category} readOnly={readOnly} onChange={(v) => onChange({ ...nudge, category: v })} />
          <NumberField name={`${id} priority`} label="Priority (0 to 1)" value={nudge.priority} min={0} max={1} step={0.05} readOnly={readOnly} onChange={(v) => onChange({ ...nudge, priority: v })} />
          {spec.fields.map((f) => (
            <NumberField
              key={f.name}
              name={`${id} ${f.name}`}
              label={f.label}
              value={typeof nudge[f.name] === 'number' ? (nudge[f.name] as number) : Number.NaN}
              min={f.min}
              max={f.max}
              step={f.step}
              readOnly={readOnly}
              onChange={(v) => onChange({ ...nudge, [f.name]: v })}
            />
          ))}
        </div>
        <div className="mt-3">
          <LinesField name={`${id} Tips`} label="Tips" hint={`one a line; ${placeholders} is filled in`} value={nudge.tips} readOnly={readOnly} onChange={(v) => onChange({ ...nudge, tips: v })} />
        </div>
      </Card>
    </div>
  );
}
