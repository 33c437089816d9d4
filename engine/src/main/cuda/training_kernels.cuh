// Training kernels (RMSNorm, SwiGLU, embedding, cross-entropy, AdamW): templates in training/; instances here.
#pragma once
