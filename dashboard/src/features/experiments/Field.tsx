import type { ReactNode } from 'react';
import { fieldId } from './fieldErrors';

export type ErrorMap = Record<string, string[]>;

export function FieldMessages({ path, errors }: { path: string; errors: ErrorMap }) {
  const messages = errors[path];
  if (!messages || messages.length === 0) return null;
  return (
    <span id={`${fieldId(path)}-error`} className="field-error" role="alert" data-field={path}>
      {messages.join('; ')}
    </span>
  );
}

/** Props that tie an input to its label and to the api's message about it. */
export function inputProps(path: string, errors: ErrorMap) {
  const invalid = (errors[path]?.length ?? 0) > 0;
  return {
    id: fieldId(path),
    name: path,
    'aria-invalid': invalid || undefined,
    'aria-describedby': invalid ? `${fieldId(path)}-error` : undefined,
  };
}

export interface TextFieldProps {
  path: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  errors: ErrorMap;
  placeholder?: string;
  hint?: string;
  inputMode?: 'numeric' | 'decimal' | 'text';
  wide?: boolean;
  /** A visible line under the input (what it accepts), tied to it with aria-describedby. */
  note?: string;
  /** Suggestions for the input: the options of a datalist. */
  suggestions?: readonly string[];
  children?: ReactNode;
}

/** Numbers are typed as text (inputMode hints the keyboard) so the api, not the browser, judges them. */
export function TextField({ path, label, value, onChange, errors, placeholder, hint, inputMode, wide, note, suggestions }: TextFieldProps) {
  const props = inputProps(path, errors);
  const noteId = note ? `${fieldId(path)}-note` : undefined;
  const describedBy = [props['aria-describedby'], noteId].filter(Boolean).join(' ') || undefined;
  const listId = suggestions ? `${fieldId(path)}-options` : undefined;
  return (
    <div className={`field${wide ? ' wide' : ''}${errors[path] ? ' field-invalid' : ''}`}>
      <label htmlFor={fieldId(path)}>{label}</label>
      <input {...props} aria-describedby={describedBy} type="text" inputMode={inputMode} value={value} placeholder={placeholder} title={hint} list={listId} onChange={(e) => onChange(e.target.value)} />
      {suggestions ? (
        <datalist id={listId}>
          {suggestions.map((o) => (
            <option key={o} value={o} />
          ))}
        </datalist>
      ) : null}
      {note ? (
        <small id={noteId} className="muted field-note">
          {note}
        </small>
      ) : null}
      <FieldMessages path={path} errors={errors} />
    </div>
  );
}

/**
 * The run's deterministic backward ({@code benchmark.deterministic} / {@code training.deterministic}): same bits on
 * every run, at some speed cost on a GPU; a CUDA worker fails the run where it has no deterministic kernel for it.
 */
export function DeterministicField({ base, checked, onChange, errors }: { base: 'benchmark' | 'training'; checked: boolean; onChange: (checked: boolean) => void; errors: ErrorMap }) {
  const path = `${base}.deterministic`;
  return (
    <div className={`field${errors[path] ? ' field-invalid' : ''}`}>
      <label>
        <input {...inputProps(path, errors)} type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} /> deterministic backward
      </label>
      <small>
        Same bits on every run (CUDA: ordered adds, slower; a shape without such a kernel fails the run; CPU: always).
      </small>
      <FieldMessages path={path} errors={errors} />
    </div>
  );
}
