// The baseline of a comparison when the user picks none.

/** The family every other one here (GQA, MLA, CCA, CCGQA, OVQ) is an alternative to. */
export const REFERENCE_FAMILY = 'mha';

/**
 * The default baseline of one kind of run: its first MHA run in the order the comparison lists its runs (the
 * runs as named in the URL, then each experiment's runs by ordinal), else its first run. MHA because "how does
 * this variant compare" means "against standard attention", wherever MHA sits in a sweep or a selection; per kind
 * because a benchmark run has no loss and a training run no cells, so a baseline of the other kind gives no ratios.
 *
 * The api applies the same rule to GET /api/compare without `baseline`
 * (api/src/main/java/org/ccalab/api/comparison/DefaultBaseline.java); baseline.test.ts and the api's
 * DefaultBaselineTest check both on the same example. Change them together.
 */
export function defaultBaseline<T extends { run: { kind: string; family: string } }>(runs: readonly T[], kind: string): T | undefined {
  const ofKind = runs.filter((r) => r.run.kind === kind);
  return ofKind.find((r) => r.run.family === REFERENCE_FAMILY) ?? ofKind[0];
}
