// Typed client of the experiments resource and the variant catalog.

import { endpoints, withQuery } from '../../shared/api/endpoints';
import { http } from '../../shared/api/http';
import { toPage, type Page } from '../../shared/api/page';
import type { AttentionConfig, CostEstimate, CreateExperimentRequest, CreatedExperiment, Experiment } from '../../shared/api/types';
import { toFamilies, type FamilySpec } from './catalog';

export interface ExperimentQuery {
  kind?: string;
  status?: string;
  q?: string;
  page?: number;
  size?: number;
  sort?: string;
}

export const experimentsApi = {
  create: (req: CreateExperimentRequest) => http.post<CreatedExperiment>(endpoints.experiments, req),
  list: async (query: ExperimentQuery, signal?: AbortSignal): Promise<Page<Experiment>> =>
    toPage<Experiment>(await http.get(withQuery(endpoints.experiments, { ...query }), signal), query.size),
  get: (id: string, signal?: AbortSignal) => http.get<Experiment>(endpoints.experiment(id), signal),
  cancel: (id: string) => http.post<unknown>(endpoints.experimentCancel(id)),
  rerunFailed: (id: string) => http.post<unknown>(endpoints.experimentRerunFailed(id)),
  catalog: async (signal?: AbortSignal): Promise<FamilySpec[]> => toFamilies(await http.get(endpoints.variants, signal)),
  /** The api answers `{variant, dtype, cost: CostEstimate, ...}`; a bare estimate is accepted too. */
  cost: async (variant: AttentionConfig, seqLen: number, dtype?: string, signal?: AbortSignal): Promise<CostEstimate> =>
    (await experimentsApi.costAnswer(variant, seqLen, dtype, signal)).cost,
  /** The estimate with the dtype the cost model computed it for: the one asked, else the api's default (bf16). */
  costAnswer: async (variant: AttentionConfig, seqLen: number, dtype?: string, signal?: AbortSignal): Promise<{ cost: CostEstimate; dtype?: string }> => {
    const body = await http.post<{ cost?: CostEstimate; dtype?: string } & CostEstimate>(endpoints.variantCost, dtype ? { variant, seqLen, dtype } : { variant, seqLen }, signal);
    const cost = body.cost && typeof body.cost === 'object' ? body.cost : body;
    return { cost, dtype: typeof body.dtype === 'string' ? body.dtype : dtype };
  },
};
