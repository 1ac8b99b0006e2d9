/** One objection, signal or tone rule of the playbook: its name, category, priority, triggers
 * (phrases and example sentences) and tips; managers remove it with one button. */
import { Trash2 } from 'lucide-react';
import type { PlaybookRule } from '../../api/types';
import { Badge, Button, Card } from '../ui';
import { LinesField, NumberField, ProblemList, TextField } from './fields';

export function RuleEditor({ id, rule, readOnly, problems, onChange, onRemove }: {
  id: string;
  rule: PlaybookRule;
  readOnly: boolean;
  problems?: readonly string[];
  onChange: (r: PlaybookRule) => void;
  onRemove: () => void;
}) {
  const lines = (name: 'patterns' | 'examples' | 'tips', label: string, hint: string) => (
    <LinesField name={`${id} ${label}`} label={label} hint={hint} value={rule[name]} readOnly={readOnly} onChange={(v) => onChange({ ...rule, [name]: v })} />
  );
  return (
    <div id={`rule-${id}`} data-testid={`rule-${id}`} className="mb-3 scroll-mt-4">
      <Card
        title={<span>{rule.label || 'Unnamed rule'} <Badge>{id}</Badge></span>}
        actions={!readOnly && (
          <Button variant="ghost" aria-label={`Remove ${id}`} onClick={onRemove}>
            <Trash2 className="h-4 w-4" aria-hidden="true" /> Remove
          </Button>
        )}
      >
        <ProblemList name={id} problems={problems} />
        <div className="grid gap-3 md:grid-cols-3">
          <TextField name={`${id} name`} label="Name" value={rule.label} readOnly={readOnly} onChange={(v) => onChange({ ...rule, label: v })} />
          <TextField name={`${id} category`} label="Category" value={rule.category} readOnly={readOnly} onChange={(v) => onChange({ ...rule, category: v })} />
          <NumberField name={`${id} priority`} label="Priority (0 to 1)" value={rule.priority} min={0} max={1} step={0.05} readOnly={readOnly} onChange={(v) => onChange({ ...rule, priority: v })} />
        </div>
        <div className="mt-3 grid gap-3 md:grid-cols-3">
          {lines('patterns', 'Trigger phrases', 'one pattern a line; regular expressions')}
          {lines('examples', 'Example sentences', 'one a line; matched by meaning')}
          {lines('tips', 'Tips', 'one a line; shown in turn')}
        </div>
      </Card>
    </div>
  );
}
