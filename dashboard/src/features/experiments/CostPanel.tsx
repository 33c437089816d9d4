import { useEffect, useRef, useState } from 'react';
import type { AttentionConfig, CostEstimate } from '../../shared/api/types';
import { bytes, si } from '../../shared/format';
import { ApiError, type FieldError } from '../../shared/api/http';
import { experimentsApi } from './api';

// Known fields of org.ccalab.common.variant.cost.CostEstimate, formatted; any other numeric field is shown raw.
const KNOWN: { key: string; label: string; fmt: (v: number) => string }[] = [
  { key: 'parameters', label: 'Parameters', fmt: (v) => si(v) },
  { key: 'kvCacheBytesPerToken', label: 'KV bytes / token', fmt: bytes },
  { key: 'kvBytesPerToken', label: 'KV bytes / token', fmt: bytes },
  { key: 'kvCacheBytes', label: 'KV cache at S', fmt: bytes },
  { key: 'decodeStateBytes', label: 'Decode state', fmt: bytes },
  { key: 'prefillFlops', label: 'Prefill FLOPs', fmt: (v) => si(v) },
  { key: 'prefillFlopsCausal', label: 'Prefill FLOPs (causal)', fmt: (v) => si(v) },
  { key: 'decodeFlops', label: 'Decode FLOPs / token', fmt: (v) => si(v) },
];

/** The exact cost of a variant as it is edited: POST /api/variants/cost, debounced while typing. */
export interface CostPanelProps {
  variant: AttentionConfig;
  seqLen: number;
  dtype?: string;
  /**
   * The cost model validates the variant as the api will: its field errors (or none) after each answer,
   * with the variant's JSON that was judged.
   */
  onProblem?: (errors: FieldError[], variantJson: string) => void;
  /**
   * Name the dtype of the KV figure in its label ("KV bytes / token (bf16)"): where the reader's run computes in
   * another dtype (a training run, fp64 on the CPU), the cost model's figure is for the dtype it was asked.
   */
  kvDtypeInLabel?: boolean;
}

export function CostPanel({ variant, seqLen, dtype, onProblem, kvDtypeInLabel = false }: CostPanelProps) {
  const [cost, setCost] = useState<CostEstimate>();
  const [costDtype, setCostDtype] = useState<string>();
  const [error, setError] = useState<string>();
  const key = JSON.stringify(variant);
  const report = useRef(onProblem);
  report.current = onProblem;

  useEffect(() => {
    const controller = new AbortController();
    const timer = setTimeout(() => {
      experimentsApi
        .costAnswer(JSON.parse(key) as AttentionConfig, seqLen, dtype, controller.signal)
        .then((a) => {
          setCost(a.cost);
          setCostDtype(a.dtype);
          setError(undefined);
          report.current?.([], key);
        })
        .catch((e: Error) => {
          if (e.name === 'AbortError') return;
          setCost(undefined);
          const p = e instanceof ApiError ? e.problem : undefined;
          report.current?.(p?.status === 400 ? p.errors : [], key);
          // In the form the field errors show beside their inputs (onProblem): saying them here too reads twice.
          const beside = report.current !== undefined && p?.status === 400 && p.errors.length > 0;
          setError(beside ? 'not computed until the fields marked above are fixed' : p?.errors[0]?.message ? `${p.errors[0].field}: ${p.errors[0].message}` : (p?.detail ?? e.message));
        });
    }, 300);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [key, seqLen, dtype]);

  if (error) return <p className="cost cost-error">Cost model: {error}</p>;
  if (!cost) return <p className="cost muted">Cost model…</p>;
  const seen = new Set<string>();
  const shownDtype = dtype ?? costDtype;
  const label = (k: (typeof KNOWN)[number]) => (kvDtypeInLabel && shownDtype && k.label === 'KV bytes / token' ? `${k.label} (${shownDtype})` : k.label);
  const rows = KNOWN.filter((k) => typeof cost[k.key] === 'number' && !seen.has(k.label) && seen.add(k.label)).map((k) => [label(k), k.fmt(cost[k.key] as number)]);
  return (
    <dl className="cost" aria-label={`Cost model at S = ${seqLen}`}>
      {rows.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
      <div>
        <dt>at S</dt>
        <dd>
          {seqLen}
          {shownDtype ? `, ${shownDtype}` : ''}
        </dd>
      </div>
    </dl>
  );
}
