import { describe, expect, it } from 'vitest';
import { EXPERIMENT_PRESETS } from './presets';

describe('the in-context recall preset', () => {
  const preset = EXPERIMENT_PRESETS.find((p) => p.id === 'ovq-recall')!;
  const training = preset.request.training!;
  const ovq = preset.request.variants.find((v) => v.family === 'ovq')!.ovq as { swaWindow: number; chunkLength: number };

  // engine InContextRecall: K = S / 8 pairs in tokens [0, 2K), asked again in [S - 2K, S); keys in [1, V / 2).
  const seqLen = training.seqLen!;
  const vocab = Number(training.dataset!.split(':')[1]);
  const pairs = seqLen / 8;

  it('fits its vocabulary and asks every key beyond the SWA window, where only the OVQ layer can recall it', () => {
    expect(pairs).toBeLessThanOrEqual(vocab / 2 - 1);
    const lastContextToken = 2 * pairs - 1;
    const firstQuery = seqLen - 2 * pairs;
    expect(firstQuery - lastContextToken).toBeGreaterThan(ovq.swaWindow);
    expect(ovq.swaWindow).toBeGreaterThanOrEqual(ovq.chunkLength);
    expect(training.nLayers).toBeGreaterThanOrEqual(2);
  });

  it('has a chance level a short CPU run can beat and says so', () => {
    // Measured on the CPU backend (400 steps): MHA 25 %, the hybrid 41 % against 1 / 16; icr:256 at S = 256 left both at 1 / 128.
    expect(vocab / 2).toBeLessThanOrEqual(16);
    expect(preset.description).toContain(`Chance is 1/${vocab / 2}`);
  });
});
