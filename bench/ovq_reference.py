"""An independent float64 OVQ-attention layer written from ../shared/spec/ovq.md alone (numpy, no engine code).

It writes golden files that the engine's tests compare OvqAttention against (OvqGoldenTest):

    python3 bench/ovq_reference.py engine/src/test/resources/ovq-golden

Each case is <name>.json (the layer config as the api takes it) and <name>.safetensors holding the weights
(q_proj.weight, k_proj.weight, v_proj.weight, o_proj.weight, beta_log when beta is learned), the input x
[B, T, E] and the output [B, T, E], plus the dictionary size each (batch, head) ends with. Everything is
deterministic given the case's seed.
"""
import json
import math
import os
import struct
import sys

import numpy as np

NORM_EPS = 1e-12  # added to the squared norm before the square root, as CCA's normalisation does


# ---- the growth schedule (ovq.md section 4, [ours]) ------------------------------------------------------
def log_alpha(growth_length, cap):
    lo, hi = 1e-9, 1.0
    while hi * math.log1p(growth_length / hi) < cap:
        hi *= 2
    for _ in range(200):
        if hi - lo <= 1e-12 * hi:
            break
        mid = 0.5 * (lo + hi)
        if mid * math.log1p(growth_length / mid) < cap:
            lo = mid
        else:
            hi = mid
    return hi


def target(spec, tokens):
    if tokens <= 0:
        return 0
    cap = spec["dictionarySize"]
    if spec["growth"] == "LOG":
        a = log_alpha(spec["growthLength"], cap)
        n = a * math.log1p(tokens / a)
    else:
        n = tokens * cap / spec["growthLength"]
    return min(cap, int(math.ceil(n)))


# ---- one head ----------------------------------------------------------------------------------------------
class Head:
    def __init__(self, spec, d):
        self.spec = spec
        self.mu = np.zeros((0, d))
        self.nu = np.zeros((0, d))  # value means; U = c * nu
        self.c = np.zeros(0)

    def read(self, q, beta, keys, values):
        """o = (sum_j e^{b q.mu_j} U_j + sum_s e^{b q.k_s} v_s) / (sum_j e^{b q.mu_j} c_j + sum_s e^{b q.k_s})."""
        mu = self.mu
        if self.spec["renormalizeCentroids"] and len(mu):
            mu = mu / np.sqrt((mu * mu).sum(1, keepdims=True) + NORM_EPS)
        logits = [beta * (mu @ q) + np.log(self.c)] if len(mu) else []
        rows = [self.nu] if len(mu) else []
        if not self.spec["stateOnly"]:
            logits.append(beta * (keys @ q))
            rows.append(values)
        if not logits:
            return np.zeros_like(q)
        z = np.concatenate(logits)
        w = np.exp(z - z.max())
        return (w[:, None] * np.concatenate(rows)).sum(0) / w.sum()

    def assign(self, k):
        if self.spec["assignment"] == "EUCLIDEAN":
            return int(np.argmin(((self.mu - k) ** 2).sum(1)))  # argmin returns the lowest index on ties
        return int(np.argmax(self.mu @ k))

    def fold(self, keys, values, grow):
        L = len(keys)
        score = np.array([((self.mu - k) ** 2).sum(1).min() if len(self.mu) else np.inf for k in keys])
        founder = np.zeros(L, bool)
        for _ in range(grow):
            s = int(np.argmax(np.where(founder, -np.inf, score)))
            founder[s] = True
            self.mu = np.vstack([self.mu, keys[s]])
            self.nu = np.vstack([self.nu, values[s]])
            self.c = np.append(self.c, 1.0)
            score = np.minimum(score, ((keys - keys[s]) ** 2).sum(1))
        n = len(self.c)
        m = np.zeros(n)
        sk = np.zeros_like(self.mu)
        sv = np.zeros_like(self.nu)
        for s in range(L):
            if founder[s]:
                continue
            j = self.assign(keys[s])
            m[j] += 1
            sk[j] += keys[s]
            sv[j] += values[s]
        for j in range(n):
            if m[j] == 0:
                continue
            if self.spec["update"] == "NEWTON":
                c_new = self.c[j] + m[j]
                self.mu[j] = self.mu[j] + (sk[j] - m[j] * self.mu[j]) / c_new
                self.nu[j] = (self.c[j] * self.nu[j] + sv[j]) / c_new  # U' = U + S^v
                self.c[j] = c_new
            else:
                eta = self.spec["constantRate"]
                self.mu[j] = self.mu[j] + eta * (sk[j] / m[j] - self.mu[j])
                self.nu[j] = self.nu[j] + eta * (sv[j] / m[j] - self.nu[j])
                self.c[j] += m[j]


def layer(spec, weights, x, d, heads):
    """x [B, T, E] -> y [B, T, E] and the final dictionary sizes [B, H]."""
    B, T, E = x.shape
    def proj(name):
        return (x @ weights[name].T).reshape(B, T, heads, d)
    def unit(a):
        return a / np.sqrt((a * a).sum(-1, keepdims=True) + NORM_EPS)
    q, k, v = unit(proj("q_proj.weight")), unit(proj("k_proj.weight")), proj("v_proj.weight")
    beta = np.exp(weights["beta_log"]) if spec["learnBeta"] else np.full(heads, math.sqrt(d))
    L = spec["chunkLength"]
    out = np.zeros((B, T, heads, d))
    sizes = np.zeros((B, heads))
    for b in range(B):
        for h in range(heads):
            head = Head(spec, d)
            n_after = 0
            for start in range(0, T, L):
                end = min(T, start + L)
                for t in range(start, end):
                    out[b, t, h] = head.read(q[b, t, h], beta[h], k[b, start:t + 1, h], v[b, start:t + 1, h])
                if end - start == L:
                    chunks = start // L + 1
                    grow = min(L, max(0, target(spec, chunks * L) - n_after))
                    head.fold(k[b, start:end, h], v[b, start:end, h], grow)
                    n_after += grow
                    assert len(head.c) == n_after
            sizes[b, h] = len(head.c)
    y = out.reshape(B, T, heads * d) @ weights["o_proj.weight"].T
    return y, sizes


# ---- safetensors (F64 only) --------------------------------------------------------------------------------
def save_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, a in tensors.items():
        a = np.ascontiguousarray(a, dtype="<f8")
        header[name] = {"dtype": "F64", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        blobs.append(a.tobytes())
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for blob in blobs:
            f.write(blob)


DEFAULTS = {"chunkLength": 64, "dictionarySize": 1024, "growthLength": 4096, "growth": "LOG",
            "assignment": "EUCLIDEAN", "update": "NEWTON", "constantRate": 0.1, "stateOnly": False,
            "renormalizeCentroids": False, "learnBeta": True, "stateGradient": True, "swaWindow": 0}

# name: (E, H, B, T, seed, spec overrides). Small dictionaries and chunks so every case folds many times and
# most reach the cap; T not a multiple of L leaves an unfolded tail.
CASES = {
    "newton_log": (16, 2, 2, 45, 1, {"chunkLength": 4, "dictionarySize": 6, "growthLength": 24}),
    "linear_growth": (16, 2, 1, 40, 2, {"chunkLength": 5, "dictionarySize": 8, "growthLength": 30, "growth": "LINEAR"}),
    "dot_assignment": (12, 3, 1, 37, 3, {"chunkLength": 4, "dictionarySize": 5, "growthLength": 20, "assignment": "DOT"}),
    "constant_update": (16, 2, 1, 41, 4, {"chunkLength": 4, "dictionarySize": 6, "growthLength": 24, "update": "CONSTANT", "constantRate": 0.3}),
    "state_only": (16, 2, 1, 33, 5, {"chunkLength": 4, "dictionarySize": 6, "growthLength": 24, "stateOnly": True}),
    "renormalized": (16, 2, 1, 39, 6, {"chunkLength": 3, "dictionarySize": 7, "growthLength": 21, "renormalizeCentroids": True}),
    "fixed_beta": (16, 4, 1, 30, 7, {"chunkLength": 4, "dictionarySize": 6, "growthLength": 24, "learnBeta": False}),
    "per_token": (8, 2, 1, 20, 8, {"chunkLength": 1, "dictionarySize": 5, "growthLength": 12}),
    "wide_chunk_small_cap": (16, 2, 1, 50, 9, {"chunkLength": 16, "dictionarySize": 3, "growthLength": 8, "growth": "LINEAR"}),
}


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for name, (E, H, B, T, seed, overrides) in CASES.items():
        spec = dict(DEFAULTS, **overrides)
        d = E // H
        rng = np.random.default_rng(seed)
        weights = {n: rng.normal(0, 1 / math.sqrt(E), (E, E)) for n in ("q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight")}
        if spec["learnBeta"]:
            weights["beta_log"] = math.log(math.sqrt(d)) + rng.normal(0, 0.3, H)
        x = rng.normal(0, 1, (B, T, E))
        y, sizes = layer(spec, weights, x, d, H)
        config = {"family": "ovq", "dModel": E, "nHeads": H, "ovq": spec}
        with open(os.path.join(out_dir, name + ".json"), "w") as f:
            json.dump(config, f, indent=1)
            f.write("\n")
        save_safetensors(os.path.join(out_dir, name + ".safetensors"),
                         dict(weights, input=x, output=y, dictionary_sizes=sizes))
        print(f"{name}: E={E} H={H} B={B} T={T} dictionary sizes {sizes.astype(int).tolist()} |y| {np.abs(y).max():.3f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "engine/src/test/resources/ovq-golden")
