import { describe, expect, it } from 'vitest';
import { BUILT_IN_FAMILIES, getPath, setPath, toFamilies } from './catalog';
import { costSeqLen, draftFromConfig, formFromRequest, initialForm, parseList, runCount, toRequest, variantToConfig } from './form';
import { formPaths } from './formPaths';
import { EXPERIMENT_PRESETS } from './presets';

const gqaSpec = BUILT_IN_FAMILIES.find((f) => f.family === 'gqa')!;
const ccaSpec = BUILT_IN_FAMILIES.find((f) => f.family === 'cca')!;

describe('variant drafts', () => {
  it('turns typed text into a typed, nested config and omits blank (default) fields', () => {
    const d = draftFromConfig({ family: 'cca', dModel: 2048, nHeads: 4, headDim: 128 }, ccaSpec);
    d.params['conv.rope.fraction'] = '0.25';
    d.params['conv.qkMean'] = 'false';
    expect(variantToConfig(d)).toEqual({ family: 'cca', dModel: 2048, nHeads: 4, headDim: 128, conv: { rope: { fraction: 0.25 }, qkMean: false } });
  });

  it('keeps text that is not a number so the api names the field', () => {
    const d = draftFromConfig({ family: 'gqa', dModel: 2048, nHeads: 16, nKvHeads: 4 }, gqaSpec);
    d.params.nKvHeads = 'four';
    expect(variantToConfig(d).nKvHeads).toBe('four');
  });
});

describe('toRequest', () => {
  it('builds a benchmark request with its grid', () => {
    const form = initialForm();
    form.name = '  curve ';
    form.variants = [draftFromConfig({ family: 'gqa', dModel: 2048, nHeads: 16, nKvHeads: 4 }, gqaSpec)];
    form.grid = [{ uid: 'g', param: 'seqLen', values: '1024, 2048 4096' }];
    const req = toRequest(form);
    expect(req.name).toBe('curve');
    expect(req.kind).toBe('BENCHMARK');
    expect(req.training).toBeUndefined();
    expect(req.benchmark).toMatchObject({ batch: 1, seqLen: 1024, dtype: 'bf16', causal: true });
    expect(req.grid).toEqual({ seqLen: [1024, 2048, 4096] });
    expect(req.variants[0]).toEqual({ family: 'gqa', dModel: 2048, nHeads: 16, nKvHeads: 4 });
  });

  it('builds a training request with only the fields given', () => {
    const form = initialForm();
    form.kind = 'TRAINING';
    form.training.learningRate = '3e-3';
    const req = toRequest(form);
    expect(req.benchmark).toBeUndefined();
    expect(req.training).toEqual({ dataset: 'recall', tokenizer: 'bytes', steps: 200, seqLen: 64, batch: 8, learningRate: 0.003 });
  });
});

describe('deterministic backward', () => {
  it('is off by default and sent in the base of either kind only when checked', () => {
    const form = initialForm();
    expect(form.deterministic).toBe(false);
    expect(toRequest(form).benchmark).not.toHaveProperty('deterministic');
    form.deterministic = true;
    expect(toRequest(form).benchmark).toMatchObject({ deterministic: true });
    form.kind = 'TRAINING';
    expect(toRequest(form).training).toMatchObject({ deterministic: true });
    expect(toRequest(form).benchmark).toBeUndefined();
  });

  it('loads back from a request (a re-run keeps it) and can be a grid axis with its errors placed', () => {
    const back = formFromRequest({ name: 'r', kind: 'TRAINING', variants: [], grid: {}, training: { steps: 5, deterministic: true } }, BUILT_IN_FAMILIES);
    expect(back.deterministic).toBe(true);
    expect(back.training.steps).toBe('5');
    const off = formFromRequest({ name: 'r', kind: 'BENCHMARK', variants: [], grid: {}, benchmark: { batch: 1 } }, BUILT_IN_FAMILIES);
    expect(off.deterministic).toBe(false);
    off.grid = [{ uid: 'g', param: 'deterministic', values: 'false, true' }];
    expect(toRequest(off).grid).toEqual({ deterministic: [false, true] });
    expect(runCount({ ...off, variants: [draftFromConfig({ family: 'gqa', dModel: 256, nHeads: 4, nKvHeads: 2 }, gqaSpec)] })).toBe(2);
    expect(formPaths(off, BUILT_IN_FAMILIES)).toContain('benchmark.deterministic');
    expect(formPaths(back, BUILT_IN_FAMILIES)).toContain('training.deterministic');
  });
});

describe('sweep size and cost length', () => {
  it('multiplies variants by every grid axis', () => {
    const form = formFromRequest(EXPERIMENT_PRESETS.find((p) => p.id === 'paper-kernel-curve')!.request, BUILT_IN_FAMILIES);
    expect(runCount(form)).toBe(6 * 5);
    form.grid.push({ uid: 'x', param: 'seed', values: '1,2' });
    expect(runCount(form)).toBe(60);
    expect(costSeqLen(form)).toBe(16384);
  });

  it('parses value lists', () => {
    expect(parseList('1, 2;3  true x')).toEqual([1, 2, 3, true, 'x']);
  });
});

describe('presets', () => {
  it('round-trip through the form unchanged', () => {
    for (const preset of EXPERIMENT_PRESETS) {
      const req = toRequest(formFromRequest(preset.request, BUILT_IN_FAMILIES));
      expect(req.variants, preset.id).toEqual(preset.request.variants);
      expect(req.grid, preset.id).toEqual(preset.request.grid);
      expect(req.kind, preset.id).toBe(preset.request.kind);
      if (preset.request.training) expect(req.training, preset.id).toEqual(preset.request.training);
      if (preset.request.benchmark) expect(req.benchmark, preset.id).toEqual(preset.request.benchmark);
    }
  });

  it('the equal-KV preset holds 128 cached elements per token in every compressed variant', () => {
    const req = EXPERIMENT_PRESETS.find((p) => p.id === 'equal-kv-quality')!.request;
    const kv = req.variants.map((v) => {
      const n = (k: string) => v[k] as number;
      switch (v.family) {
        case 'mha':
          return 2 * v.dModel;
        case 'gqa':
          return 2 * n('nKvHeads') * (v.dModel / n('nHeads'));
        case 'mla':
          return n('kvLoraRank') + n('qkRopeHeadDim');
        case 'cca':
          return 2 * n('nHeads') * n('headDim');
        default:
          return 2 * n('nKvHeads') * n('headDim');
      }
    });
    expect(kv).toEqual([512, 128, 128, 128, 128]);
  });
});

describe('form paths', () => {
  it('lists every rendered input so errors can land on them', () => {
    const form = formFromRequest(EXPERIMENT_PRESETS[0].request, BUILT_IN_FAMILIES);
    const paths = formPaths(form, BUILT_IN_FAMILIES);
    expect(paths).toContain('variants[1].nKvHeads');
    expect(paths).toContain('variants[4].conv.rope.fraction');
    expect(paths).toContain('grid.seqLen');
    expect(paths).toContain('benchmark.seqLen');
    expect(paths).not.toContain('training.steps');
  });
});

describe('catalog', () => {
  it('takes fields and presets from the api and keeps built-ins for missing families', () => {
    const families = toFamilies([
      {
        family: 'gqa',
        title: 'GQA from api',
        parameters: [{ name: 'dModel', type: 'int', defaultValue: 512, min: 1, max: 16384 }],
        defaultConfig: { family: 'gqa', dModel: 512, nHeads: 8, nKvHeads: 2 },
        presets: [{ name: 'MQA', description: 'one kv head', config: { family: 'gqa', dModel: 512, nHeads: 8, nKvHeads: 1 } }],
      },
    ]);
    const gqa = families.find((f) => f.family === 'gqa')!;
    expect(gqa.title).toBe('GQA from api');
    expect(gqa.parameters.map((p) => p.name)).toEqual(['dModel']);
    expect(gqa.presets[0].config.nKvHeads).toBe(1);
    expect(families.find((f) => f.family === 'mla')).toBe(BUILT_IN_FAMILIES.find((f) => f.family === 'mla'));
  });

  it('reads and writes dotted paths', () => {
    const o: Record<string, unknown> = {};
    setPath(o, 'conv.rope.base', 10);
    expect(getPath(o, 'conv.rope.base')).toBe(10);
    expect(getPath(o, 'conv.nothing.here')).toBeUndefined();
  });
});

describe('the initial form', () => {
  it('measures the scopes the api measures by default (CORE and LAYER)', () => {
    expect(toRequest(initialForm()).benchmark?.scopes).toEqual(['CORE', 'LAYER']);
  });
});
