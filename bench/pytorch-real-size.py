#!/usr/bin/python3
"""PyTorch eager side of `sd15_unet_step` and `tiny_vs_full_decoder_512` (bench/real-size.ts): the networks of
scripts/make-real-size-models.py, rebuilt with the seeds they were exported with (their weight fingerprints
are checked against the export's manifest.json), run on the benchmark's inputs: one UNet step at batch 2 on
64x64 latents (512 px), the decoders at batch 1 on 64x64 latents.
    /usr/bin/python3 bench/pytorch-real-size.py <dir> <networks> <threads>
Like bench/pytorch_grid.py it serves: after a warm-up run of each network it prints {"ready": true, ...},
then runs one network per name read from stdin and answers {"seconds": s}; at the end of stdin it prints
{"max_rss_mb": ...} (this process's peak resident memory).
"""
import importlib.util
import json
import math
import os
import resource
import sys
import time

import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')


def load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    folder, names, threads = sys.argv[1], sys.argv[2].split(','), int(sys.argv[3])
    torch.set_num_threads(threads)
    nets = load_module(os.path.join(ROOT, 'scripts', 'make-real-size-models.py'), 'real_size')
    with open(os.path.join(folder, 'manifest.json')) as f:
        manifest = json.load(f)
    modules, feeds = {}, {}
    for name in names:
        module = nets.build(name)
        expected = manifest['networks'][name]['fingerprint']
        got = nets.fingerprint(module)
        if not all(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6) for a, b in zip(got, expected)):
            sys.exit(f'{name}: weights differ from the export ({got} vs {expected}); rerun the export script')
        modules[name] = module
        feeds[name] = tuple(nets.bench_inputs(name).values())

    @torch.no_grad()
    def run(name):
        start = time.perf_counter()
        modules[name](*feeds[name])
        return time.perf_counter() - start

    warmup = {name: run(name) for name in names}
    print(json.dumps({'ready': True, 'torch': torch.__version__, 'threads': torch.get_num_threads(),
                      'warmup_seconds': warmup}), flush=True)
    for line in sys.stdin:
        name = line.strip()
        if name:
            print(json.dumps({'seconds': run(name)}), flush=True)
    print(json.dumps({'max_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), flush=True)


if __name__ == '__main__':
    main()
