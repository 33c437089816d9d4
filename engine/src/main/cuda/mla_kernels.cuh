// MLA kernels (prefill core forward, absorbed decode): written in attention/mla_*.cuh; instances here.
#pragma once
