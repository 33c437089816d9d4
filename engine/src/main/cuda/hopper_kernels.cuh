// Hopper (sm_90a) kernels: wgmma/TMA versions of the attention core; instances here.
#pragma once
