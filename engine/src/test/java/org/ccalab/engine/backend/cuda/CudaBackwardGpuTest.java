package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.ccalab.engine.backend.cpu.AttentionKernel;
import org.ccalab.engine.backend.cpu.CpuBackend;
import org.ccalab.engine.backend.cuda.CudaBenchCli.Err;
import org.ccalab.engine.backend.cuda.CudaBenchCli.Variant;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * On a GPU host (tag {@code gpu}): each flash backward path, forced through {@code ccalab.flash.backward}, against
 * the CPU float64 backward on fresh random inputs: the mma.sync kernel everywhere, the wgmma kernel where the
 * driver runs the sm_90a image (the auto default there). D = 128, 64 and 256 (each has a wgmma kernel; at 256 the
 * mma.sync path is flash_bwd_wide), MHA and GQA, causal and not, lengths off the 64-row query and 64- / 128-key
 * tiles; the same 8e-3 bound as the benchmark CLI's check phase.
 */
@Tag("gpu")
class CudaBackwardGpuTest {
    private static final AttentionShape D128 = new AttentionShape(1, 16, 4, 4, 128);

    @Test
    void eachBackwardPathMatchesTheFloat64Reference() {
        assertThat(CudaBackend.probe().available()).as(CudaBackend.probe().reason()).isTrue();
        boolean hopper;
        try (CudaBackend cuda = open("auto")) {
            hopper = cuda.backwardVariant(D128) == CudaKernels.BwdVariant.WGMMA;
        }
        List<String> modes = hopper ? List.of("mma", "wgmma") : List.of("mma");
        AttentionKernel ref = CpuBackend.create().attention();
        List<String> failures = new ArrayList<>();
        int checked = 0;
        for (String mode : modes) {
            try (CudaBackend cuda = open(mode)) {
                assertThat(cuda.backwardVariant(D128))
                        .isEqualTo(mode.equals("wgmma") ? CudaKernels.BwdVariant.WGMMA : CudaKernels.BwdVariant.MMA);
                CudaBenchCli cli = new CudaBenchCli(cuda, 3);
                for (Object[] c : new Object[][] {{new Variant("GQA 4q/2kv", "gqa", 4, 2, 128), 2, 150, true},
                        {new Variant("MHA 2x128", "mha", 2, 2, 128), 1, 333, false},
                        {new Variant("GQA 8q/2kv", "gqa", 8, 2, 128), 1, 77, false},
                        {new Variant("MHA 2x128", "mha", 2, 2, 128), 1, 700, true},
                        {new Variant("GQA 4q/2kv d64", "gqa", 4, 2, 64), 2, 150, true},
                        {new Variant("MHA 2x64", "mha", 2, 2, 64), 1, 333, false},
                        {new Variant("GQA 8q/2kv d64", "gqa", 8, 2, 64), 1, 77, false},
                        {new Variant("MHA 2x64", "mha", 2, 2, 64), 1, 700, true},
                        {new Variant("GQA 4q/2kv d256", "gqa", 4, 2, 256), 2, 150, true},
                        {new Variant("MHA 2x256", "mha", 2, 2, 256), 1, 333, false}}) {
                    Variant v = (Variant) c[0];
                    Map<String, Err> errors = cli.backwardErrors(ref, v, (int) c[1], (int) c[2], (boolean) c[3]);
                    for (var e : errors.entrySet()) {
                        checked++;
                        if (!(e.getValue().rel() < 8e-3))
                            failures.add(mode + " " + v.name() + " B" + c[1] + " T" + c[2] + " causal=" + c[3] + " "
                                    + e.getKey() + " rel " + e.getValue().rel());
                    }
                }
            }
        }
        assertThat(failures).isEmpty();
        assertThat(checked).isEqualTo(modes.size() * 10 * 3);
    }

    private static CudaBackend open(String mode) {
        String saved = System.getProperty("ccalab.flash.backward");
        System.setProperty("ccalab.flash.backward", mode);
        try {
            return CudaBackend.open();
        } finally {
            if (saved == null) System.clearProperty("ccalab.flash.backward");
            else System.setProperty("ccalab.flash.backward", saved);
        }
    }
}
