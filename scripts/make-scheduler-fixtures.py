#!/usr/bin/python3
"""Reference values for the schedulers, computed with numpy from the diffusers formulas (DDIMScheduler,
EulerAncestralDiscreteScheduler, DPMSolverMultistepScheduler with use_karras_sigmas, dpmsolver++, order 2,
midpoint, lower_order_final, final_sigmas_type 'zero'; EulerDiscreteScheduler with s_churn 0, linear
interpolation, final sigma zero; LCMScheduler from the LCM paper's Algorithm 1 with diffusers' timestep
selection), independently of the TypeScript code.
Each case runs a full trajectory with a fixed toy model  eps(x, t) = 0.5 x + 0.01 (t / 1000) r  (r a fixed ramp),
and fixed per-step noise, so the multistep state is exercised too.
    /usr/bin/python3 scripts/make-scheduler-fixtures.py
"""
import json
import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'schedulers.json')
SIZE = 8
RAMP = (np.arange(SIZE) - 3.5) / 4.0


def toy_model(x, t):
    return 0.5 * x + 0.01 * (t / 1000.0) * RAMP


def alphas_cumprod(cfg):
    T = cfg['num_train_timesteps']
    if cfg['beta_schedule'] == 'scaled_linear':
        betas = np.linspace(cfg['beta_start'] ** 0.5, cfg['beta_end'] ** 0.5, T, dtype=np.float64) ** 2
    else:
        betas = np.linspace(cfg['beta_start'], cfg['beta_end'], T, dtype=np.float64)
    return np.cumprod(1.0 - betas)


def spaced_timesteps(cfg, n, kind):
    """The `timestep_spacing` rules; DDIM rounds to ints, Euler keeps linspace floats."""
    T, spacing, offset = cfg['num_train_timesteps'], cfg['timestep_spacing'], cfg['steps_offset']
    if spacing == 'linspace':
        ts = np.linspace(0, T - 1, n)[::-1].copy()
        return ts.round() if kind == 'ddim' else ts
    if spacing == 'leading':
        ratio = T // n
        return (np.arange(0, n) * ratio).round()[::-1].astype(np.float64) + offset
    ratio = T / n
    return np.round(np.arange(T, 0, -ratio)) - 1


def to_prediction(cfg, model_output, x, alpha_prod):
    if cfg['prediction_type'] == 'epsilon':
        return (x - (1 - alpha_prod) ** 0.5 * model_output) / alpha_prod ** 0.5, model_output
    x0 = alpha_prod ** 0.5 * x - (1 - alpha_prod) ** 0.5 * model_output
    eps = alpha_prod ** 0.5 * model_output + (1 - alpha_prod) ** 0.5 * x
    return x0, eps


def run_ddim(cfg, n, eta, x, noises):
    ac = alphas_cumprod(cfg)
    final = 1.0 if cfg['set_alpha_to_one'] else ac[0]
    ts = spaced_timesteps(cfg, n, 'ddim').astype(np.int64)
    traj = []
    for i, t in enumerate(ts):
        e = toy_model(x, t)
        prev = t - cfg['num_train_timesteps'] // n
        a_t = ac[t]
        a_prev = ac[prev] if prev >= 0 else final
        x0, eps = to_prediction(cfg, e, x, a_t)
        variance = (1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)
        std = eta * variance ** 0.5
        x = a_prev ** 0.5 * x0 + (1 - a_prev - std ** 2) ** 0.5 * eps
        if eta > 0:
            x = x + std * noises[i]
        traj.append(x.tolist())
    k = len(ts) // 2
    noised = ac[ts[k]] ** 0.5 * x_clean() + (1 - ac[ts[k]]) ** 0.5 * noises[0]
    return {'timesteps': ts.tolist(), 'init_noise_sigma': 1.0, 'trajectory': traj,
            'add_noise': {'index': int(k), 'result': noised.tolist()}}


def x_clean():
    """A fixed 'clean latent' for the img2img add_noise check."""
    return np.linspace(-1.0, 1.0, SIZE)


def run_euler_ancestral(cfg, n, x, noises):
    ac = alphas_cumprod(cfg)
    ts = spaced_timesteps(cfg, n, 'euler')
    sig = ((1 - ac) / ac) ** 0.5
    sigmas = np.concatenate([np.interp(ts, np.arange(len(sig)), sig), [0.0]])
    init = sigmas.max() if cfg['timestep_spacing'] in ('linspace', 'trailing') else (sigmas.max() ** 2 + 1) ** 0.5
    x = x * init
    start = x.copy()
    traj = []
    for i, t in enumerate(ts):
        s = sigmas[i]
        e = toy_model(x / (s ** 2 + 1) ** 0.5, t)
        if cfg['prediction_type'] == 'epsilon':
            x0 = x - s * e
        else:
            x0 = e * (-s / (s ** 2 + 1) ** 0.5) + x / (s ** 2 + 1)
        s_to = sigmas[i + 1]
        up = (s_to ** 2 * (s ** 2 - s_to ** 2) / s ** 2) ** 0.5
        down = (s_to ** 2 - up ** 2) ** 0.5
        x = x + (x - x0) / s * (down - s) + noises[i] * up
        traj.append(x.tolist())
    k = len(ts) // 2
    return {'timesteps': ts.tolist(), 'sigmas': sigmas.tolist(), 'init_noise_sigma': float(init),
            'start': start.tolist(), 'trajectory': traj,
            'add_noise': {'index': int(k), 'result': (x_clean() + sigmas[k] * noises[0]).tolist()}}


def sigma_to_t(sigma, log_sigmas):
    log_sigma = np.log(max(sigma, 1e-10))
    dists = log_sigma - log_sigmas[:, None]
    low = np.cumsum(dists >= 0, axis=0).argmax(axis=0).clip(max=log_sigmas.shape[0] - 2)
    high = low + 1
    w = (log_sigmas[low] - log_sigma) / (log_sigmas[low] - log_sigmas[high])
    w = np.clip(w, 0, 1)
    return float(((1 - w) * low + w * high).reshape(-1)[0])


def run_dpmpp_2m_karras(cfg, n, x, noises):
    ac = alphas_cumprod(cfg)
    sig = ((1 - ac) / ac) ** 0.5
    log_sigmas = np.log(sig)
    flipped = np.flip(sig).copy()
    rho = 7.0
    ramp = np.linspace(0, 1, n)
    lo, hi = flipped[-1] ** (1 / rho), flipped[0] ** (1 / rho)
    sigmas = (hi + ramp * (lo - hi)) ** rho
    ts = np.array([sigma_to_t(s, log_sigmas) for s in sigmas]).round()
    sigmas = np.concatenate([sigmas, [0.0]])

    def alpha_sigma(s):
        a = 1 / (s ** 2 + 1) ** 0.5
        return a, s * a

    outputs = []
    lower_order_nums = 0
    traj = []
    with np.errstate(divide='ignore'):
        for i, t in enumerate(ts):
            e = toy_model(x, t)
            a_s, s_s = alpha_sigma(sigmas[i])
            x0 = (x - s_s * e) / a_s if cfg['prediction_type'] == 'epsilon' else a_s * x - s_s * e
            outputs.append(x0)
            last = i == len(ts) - 1  # final sigma is zero: always first order there
            a_t, s_t = alpha_sigma(sigmas[i + 1])
            lam_t = np.log(a_t) - np.log(s_t)
            lam_s0 = np.log(a_s) - np.log(s_s)
            h = lam_t - lam_s0
            if lower_order_nums < 1 or last:
                x = (s_t / s_s) * x - a_t * (np.exp(-h) - 1.0) * x0
            else:
                a_s1, s_s1 = alpha_sigma(sigmas[i - 1])
                lam_s1 = np.log(a_s1) - np.log(s_s1)
                r0 = (lam_s0 - lam_s1) / h
                d0 = outputs[-1]
                d1 = (1.0 / r0) * (outputs[-1] - outputs[-2])
                x = (s_t / s_s) * x - a_t * (np.exp(-h) - 1.0) * d0 - 0.5 * a_t * (np.exp(-h) - 1.0) * d1
            lower_order_nums = min(lower_order_nums + 1, 2)
            traj.append(x.tolist())
    k = len(ts) // 2
    a_k, s_k = alpha_sigma(sigmas[k])
    return {'timesteps': ts.tolist(), 'sigmas': sigmas.tolist(), 'init_noise_sigma': 1.0, 'trajectory': traj,
            'add_noise': {'index': int(k), 'result': (a_k * x_clean() + s_k * noises[0]).tolist()}}


def run_euler(cfg, n, x, noises):
    """Euler (Karras et al. 2022, Alg. 2 with s_churn = 0): x <- x + (x - x0) / sigma * (sigma_next - sigma)."""
    ac = alphas_cumprod(cfg)
    ts = spaced_timesteps(cfg, n, 'euler')
    sig = ((1 - ac) / ac) ** 0.5
    sigmas = np.concatenate([np.interp(ts, np.arange(len(sig)), sig), [0.0]])
    init = sigmas.max() if cfg['timestep_spacing'] in ('linspace', 'trailing') else (sigmas.max() ** 2 + 1) ** 0.5
    x = x * init
    traj, x0s = [], []
    for i, t in enumerate(ts):
        s = sigmas[i]
        e = toy_model(x / (s ** 2 + 1) ** 0.5, t)
        if cfg['prediction_type'] == 'epsilon':
            x0 = x - s * e
        else:
            x0 = e * (-s / (s ** 2 + 1) ** 0.5) + x / (s ** 2 + 1)
        x = x + (x - x0) / s * (sigmas[i + 1] - s)
        traj.append(x.tolist())
        x0s.append(x0.tolist())
    k = len(ts) // 2
    return {'timesteps': ts.tolist(), 'sigmas': sigmas.tolist(), 'init_noise_sigma': float(init),
            'trajectory': traj, 'pred_original': x0s,
            'add_noise': {'index': int(k), 'result': (x_clean() + sigmas[k] * noises[0]).tolist()}}


def lcm_timesteps(cfg, n):
    """The distillation schedule t_j = j * (T // N) - 1 (j = 1..N), N = original_inference_steps, reversed,
    then n of them at indices floor(linspace(0, N, n, endpoint=False))."""
    N, T = cfg['original_inference_steps'], cfg['num_train_timesteps']
    k = T // N
    origin = (np.arange(1, N + 1) * k - 1)[::-1]
    idx = np.floor(np.linspace(0, N, num=n, endpoint=False)).astype(np.int64)
    return origin[idx]


def run_lcm(cfg, n, x, noises):
    """LCM multistep sampling (Luo et al. 2023, Alg. 1): x0 from the model output, the consistency boundary
    condition denoised = c_out x0 + c_skip x (c_skip = sd^2 / (s^2 + sd^2), c_out = s / sqrt(s^2 + sd^2),
    s = 10 t, sd = 0.5), then x = sqrt(a_next) denoised + sqrt(1 - a_next) z except after the last step."""
    ac = alphas_cumprod(cfg)
    ts = lcm_timesteps(cfg, n)
    sd = 0.5
    traj, denoised_all, scalings = [], [], []
    for i, t in enumerate(ts):
        e = toy_model(x, t)
        a = ac[t]
        x0, _ = to_prediction(cfg, e, x, a)
        s = t * cfg['timestep_scaling']
        c_skip = sd ** 2 / (s ** 2 + sd ** 2)
        c_out = s / (s ** 2 + sd ** 2) ** 0.5
        scalings.append([c_skip, c_out])
        denoised = c_out * x0 + c_skip * x
        if i < len(ts) - 1:
            a_next = ac[ts[i + 1]]
            x = a_next ** 0.5 * denoised + (1 - a_next) ** 0.5 * noises[i]
        else:
            x = denoised
        traj.append(x.tolist())
        denoised_all.append(denoised.tolist())
    k = len(ts) // 2
    noised = ac[ts[k]] ** 0.5 * x_clean() + (1 - ac[ts[k]]) ** 0.5 * noises[0]
    return {'timesteps': ts.tolist(), 'init_noise_sigma': 1.0, 'trajectory': traj, 'pred_original': denoised_all,
            'scalings': scalings, 'add_noise': {'index': int(k), 'result': noised.tolist()}}


def guidance_embedding(w, dim):
    """VDM's sinusoidal embedding of the guidance scale, in float32 as the LCM pipeline computes it:
    w' = (w - 1) * 1000; sin and cos of w' * exp(-ln(10000) * i / (dim / 2 - 1)), i < dim / 2."""
    half = dim // 2
    step = np.float32(np.log(np.float32(10000.0)) / np.float32(half - 1))
    freqs = np.exp(np.arange(half, dtype=np.float32) * -step)
    angles = np.float32((w - 1) * 1000.0) * freqs
    emb = np.concatenate([np.sin(angles), np.cos(angles)]).astype(np.float32)
    if dim % 2 == 1:
        emb = np.concatenate([emb, np.zeros(1, dtype=np.float32)])
    return emb


def main():
    rng = np.random.default_rng(7)
    x = rng.standard_normal(SIZE)
    noises = rng.standard_normal((60, SIZE))
    base = {'num_train_timesteps': 1000, 'beta_schedule': 'scaled_linear', 'beta_start': 0.00085, 'beta_end': 0.012,
            'set_alpha_to_one': False}
    cases = []
    configs = []
    for spacing, offset in [('leading', 1), ('leading', 0), ('trailing', 0), ('linspace', 0)]:
        for pred in ['epsilon', 'v_prediction']:
            configs.append(dict(base, timestep_spacing=spacing, steps_offset=offset, prediction_type=pred))
    configs.append(dict(base, beta_schedule='linear', beta_start=0.0001, beta_end=0.02, timestep_spacing='leading',
                        steps_offset=1, prediction_type='epsilon', set_alpha_to_one=True))
    for cfg in configs:
        for n in [4, 10, 25]:
            cases.append({'scheduler': 'ddim', 'eta': 0.0, 'config': cfg, 'steps': n, **run_ddim(cfg, n, 0.0, x, noises)})
            cases.append({'scheduler': 'ddim', 'eta': 1.0, 'config': cfg, 'steps': n, **run_ddim(cfg, n, 1.0, x, noises)})
            cases.append({'scheduler': 'euler-ancestral', 'config': cfg, 'steps': n,
                          **run_euler_ancestral(cfg, n, x, noises)})
            cases.append({'scheduler': 'dpmpp-2m-karras', 'config': cfg, 'steps': n, **run_dpmpp_2m_karras(cfg, n, x, noises)})
    # Euler (non-ancestral): the same configs, and the few-step counts Turbo models run (1, 2, 4 with trailing).
    for cfg in configs:
        for n in [1, 2, 4, 10, 25]:
            cases.append({'scheduler': 'euler', 'config': cfg, 'steps': n, **run_euler(cfg, n, x, noises)})
    # LCM: LCM_Dreamshaper_v7's config (original_inference_steps 50, set_alpha_to_one, leading) and variants.
    lcm_base = dict(base, timestep_spacing='leading', steps_offset=1, prediction_type='epsilon', set_alpha_to_one=True,
                    original_inference_steps=50, timestep_scaling=10.0)
    lcm_configs = [lcm_base, dict(lcm_base, prediction_type='v_prediction'), dict(lcm_base, original_inference_steps=100),
                   dict(lcm_base, original_inference_steps=30, timestep_scaling=5.0),
                   dict(lcm_base, beta_schedule='linear', beta_start=0.0001, beta_end=0.02, set_alpha_to_one=False)]
    for cfg in lcm_configs:
        for n in [1, 2, 3, 4, 6, 8, 25]:
            cases.append({'scheduler': 'lcm', 'config': cfg, 'steps': n, **run_lcm(cfg, n, x, noises)})
    embeddings = [{'guidance_scale': w, 'dim': d, 'embedding': guidance_embedding(w, d).tolist()}
                  for w, d in [(8.5, 256), (1.0, 256), (2.0, 32), (4.5, 7)]]
    with open(OUT, 'w') as f:
        json.dump({'sample': x.tolist(), 'noises': noises.tolist(), 'ramp': RAMP.tolist(), 'clean': x_clean().tolist(),
                   'model': 'eps(x, t) = 0.5 * x + 0.01 * (t / 1000) * ramp', 'cases': cases,
                   'lcm_guidance_embeddings': embeddings}, f)
        f.write('\n')


if __name__ == '__main__':
    main()
