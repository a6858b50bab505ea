#!/usr/bin/python3
"""PyTorch peer for deepnode's training benchmark (issue 5): workloads W1-W4 on Fashion-MNIST.

Run with Debian's interpreter (python3-torch): /usr/bin/python3 bench/peers/torch_workloads.py
  --workloads W1,W2,W3,W4  --threads 1,2  --epochs K  --max-seconds S  [--data DIR] [--n 55000]
  [--warmup-steps 50] [--seed 0] [--blas-threads match|inherit]

Reads the data written by bench/peers/export-data.mjs (deepnode's own loader, so the inputs are
identical): <DIR>/train-x-<n>.f32 (float32 [n, 784] in [0, 1]) and <DIR>/train-y-<n>.u8.

For each (workload, threads): build the model with Keras semantics (below), run an untimed warm-up
of --warmup-steps steps, then K timed epochs (each over a fresh seeded permutation of the n images;
batches are gathered with index_select, the last batch is partial). If an epoch would take longer
than --max-seconds, only the steps that fit in S seconds are timed and the time is scaled to the
full epoch (ceil(n / batch) steps: 1719 at batch 32, 215 at batch 256), with extrapolated=true.
Each epoch's value goes in "samples"; "sPerEpoch" is their median.

Output protocol: one JSON object per line on stdout and nothing else; logs go to stderr.
  {"peer":"pytorch","workload":"W1","threads":1,"sPerEpoch":..,"samples":[..],"extrapolated":..,
   "stepsMeasured":..,"finalLoss":..,"version":"1.13.1"}
("stepsMeasured" counts the timed steps over all K epochs; "finalLoss" is the mean training loss
over the last timed epoch's measured steps.)

--serve (one workload, one thread count) keeps one model for epochs on request, so that a caller
can alternate them with its own (bench/run.mjs pairs deepnode's and PyTorch's epochs this way):
after the warm-up it prints {"ready":true,"workload":..,"threads":..,"version":..}, then runs one
timed epoch per "epoch" line on stdin, printing {"epoch":i,"sample":..,"steps":..,"extrapolated":..,
"loss":..} for each, and exits on "quit" or end of input.

Threads: torch.set_num_threads(t) sets ATen's OpenMP pool, but Debian's OpenBLAS may be the
pthread build, whose own pool follows OPENBLAS_NUM_THREADS (default: all cores) and ignores
torch. With --blas-threads match (default) every thread count runs in its own child process
with OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = MKL_NUM_THREADS = t, so "1 thread" means one core,
and OMP_WAIT_POLICY=passive unless set (see child_env).
--blas-threads inherit leaves the environment alone (the out-of-the-box PyTorch behaviour).

Keras semantics (Keras 3 is deepnode's reference):
- Dense kernels: He normal / LeCun normal / Glorot uniform as in Keras, i.e. VarianceScaling with
  a normal truncated at 2 stddev whose stddev is divided by 0.8796256610342398 (Keras and deepnode
  use the truncated normal; torch's kaiming_normal_ is untruncated), zero biases.
  W2 and W4 name no initializer, so they use Keras's default Glorot uniform.
- LeakyReLU negative slope 0.2 (keras.activations.leaky_relu default); SELU as torch.nn.SELU.
- BatchNormalization(momentum 0.99, epsilon 1e-3) = BatchNorm1d(momentum=0.01, eps=1e-3).
- Softmax + sparse categorical cross-entropy = CrossEntropyLoss on the logits (mean over batch).
- SGD(lr 1e-3) without momentum; Adam(lr 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-7).
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, '..', '.peers', 'data')
TRUNCATED_STD = 0.8796256610342398
PIXELS = 784


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--workloads', default='W1,W2,W3,W4')
    p.add_argument('--threads', default='1,2')
    p.add_argument('--epochs', type=int, default=3)
    p.add_argument('--max-seconds', type=float, default=float('inf'))
    p.add_argument('--warmup-steps', type=int, default=50)
    p.add_argument('--data', default=DEFAULT_DATA)
    p.add_argument('--n', type=int, default=55000)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--blas-threads', choices=['match', 'inherit'], default='match')
    p.add_argument('--serve', action='store_true')
    p.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    a.workloads = [w.strip().upper() for w in a.workloads.split(',') if w.strip()]
    for w in a.workloads:
        if w not in ('W1', 'W2', 'W3', 'W4', 'W1R', 'W2A'):
            p.error(f'--workloads: unknown workload {w!r} (expected W1..W4, W1R or W2A)')
    try:
        a.threads = [int(t) for t in a.threads.split(',') if t.strip()]
    except ValueError:
        p.error(f'--threads must be a comma-separated list of positive integers, received {a.threads!r}')
    if not a.threads or any(t < 1 for t in a.threads):
        p.error(f'--threads must be positive integers, received {a.threads}')
    if a.serve and (len(a.workloads) != 1 or len(a.threads) != 1):
        p.error(f'--serve takes one workload and one thread count, received {a.workloads} and {a.threads}')
    if a.epochs < 1:
        p.error(f'--epochs must be >= 1, received {a.epochs}')
    if not a.max_seconds > 0:
        p.error(f'--max-seconds must be > 0, received {a.max_seconds}')
    return a


# ----------------------------------------------------------------------------------------------
# Models

def keras_normal_(w, scale, fan_in):
    """Keras VarianceScaling(scale, fan_in, truncated_normal): N(0, s) truncated at +-2s, s = sqrt(scale/fan_in)/0.8796."""
    import torch
    std = math.sqrt(scale / fan_in) / TRUNCATED_STD
    with torch.no_grad():
        torch.nn.init.trunc_normal_(w, mean=0.0, std=std, a=-2 * std, b=2 * std)


def glorot_uniform_(w):
    import torch
    fan_out, fan_in = w.shape
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        w.uniform_(-limit, limit)


def dense(n_in, n_out, init, bias=True):
    import torch
    layer = torch.nn.Linear(n_in, n_out, bias=bias)
    if init == 'he_normal':
        keras_normal_(layer.weight, 2.0, n_in)
    elif init == 'lecun_normal':
        keras_normal_(layer.weight, 1.0, n_in)
    else:
        glorot_uniform_(layer.weight)
    if bias:
        torch.nn.init.zeros_(layer.bias)
    return layer


def build(workload):
    """(model, optimizer, batch size) for W1..W4, W1R and W2A. The model outputs logits; softmax is in the loss."""
    import torch
    nn = torch.nn
    if workload == 'W1':
        model = nn.Sequential(
            dense(784, 300, 'he_normal'), nn.LeakyReLU(0.2),
            dense(300, 100, 'he_normal'), nn.LeakyReLU(0.2),
            dense(100, 10, 'he_normal'))
        return model, torch.optim.SGD(model.parameters(), lr=1e-3), 32
    if workload == 'W1R':
        # W1 regularized as in Hands-On ML ch. 11 (bench/chapter11.mjs): Dropout(0.2) after each
        # hidden layer, and Keras's l2(1e-4) on every kernel, a penalty 1e-4 * sum(w^2) whose
        # gradient 2e-4 * w is, for plain SGD, exactly weight_decay=2e-4 on the kernels: PyTorch's
        # idiomatic form, and faster here than adding the penalty to the loss (its logged loss then
        # lacks the penalty).
        hidden1, hidden2, out = dense(784, 300, 'he_normal'), dense(300, 100, 'he_normal'), dense(100, 10, 'he_normal')
        model = nn.Sequential(
            hidden1, nn.LeakyReLU(0.2), nn.Dropout(0.2),
            hidden2, nn.LeakyReLU(0.2), nn.Dropout(0.2),
            out)
        kernels = [hidden1.weight, hidden2.weight, out.weight]
        biases = [hidden1.bias, hidden2.bias, out.bias]
        opt = torch.optim.SGD([{'params': kernels, 'weight_decay': 2e-4}, {'params': biases}], lr=1e-3)
        return model, opt, 32
    if workload == 'W2A':
        # BatchNormalization before the activation, as Hands-On ML ch. 11 builds it
        # (bench/chapter11.mjs): BN on the input, then twice Dense without bias -> BN -> ELU,
        # He normal, with Keras's BN momentum 0.99 (PyTorch's 0.01) and epsilon 1e-3.
        bn = lambda n: nn.BatchNorm1d(n, momentum=0.01, eps=1e-3)
        model = nn.Sequential(
            bn(784), dense(784, 300, 'he_normal', bias=False), bn(300), nn.ELU(),
            dense(300, 100, 'he_normal', bias=False), bn(100), nn.ELU(),
            dense(100, 10, 'glorot_uniform'))
        return model, torch.optim.SGD(model.parameters(), lr=1e-3), 32
    if workload == 'W2':
        bn = lambda n: nn.BatchNorm1d(n, momentum=0.01, eps=1e-3)
        model = nn.Sequential(
            bn(784), dense(784, 300, 'glorot_uniform'), nn.ReLU(),
            bn(300), dense(300, 100, 'glorot_uniform'), nn.ReLU(),
            bn(100), dense(100, 10, 'glorot_uniform'))
        return model, torch.optim.SGD(model.parameters(), lr=1e-3), 32
    if workload == 'W3':
        layers = [dense(784, 300, 'lecun_normal'), nn.SELU()]
        n_in = 300
        for _ in range(99):
            layers += [dense(n_in, 100, 'lecun_normal'), nn.SELU()]
            n_in = 100
        layers.append(dense(100, 10, 'lecun_normal'))
        model = nn.Sequential(*layers)
        return model, torch.optim.SGD(model.parameters(), lr=1e-3), 32
    if workload == 'W4':
        model = nn.Sequential(
            dense(784, 1024, 'glorot_uniform'), nn.ReLU(),
            dense(1024, 1024, 'glorot_uniform'), nn.ReLU(),
            dense(1024, 10, 'glorot_uniform'))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
        return model, opt, 256
    raise ValueError(workload)


# ----------------------------------------------------------------------------------------------
# Data and timing

def load_data(data_dir, n):
    import numpy as np
    import torch
    xf = os.path.join(data_dir, f'train-x-{n}.f32')
    yf = os.path.join(data_dir, f'train-y-{n}.u8')
    for f, size in ((xf, n * PIXELS * 4), (yf, n)):
        if not os.path.exists(f) or os.path.getsize(f) != size:
            raise SystemExit(f'torch_workloads: {f} is missing or has the wrong size '
                             f'(expected {size} bytes); run node bench/peers/export-data.mjs --n {n}')
    x = torch.from_numpy(np.fromfile(xf, dtype='<f4').reshape(n, PIXELS))
    y = torch.from_numpy(np.fromfile(yf, dtype=np.uint8).astype(np.int64))
    return x, y


class Session:
    """One model of a workload at a thread count: an untimed warm-up, then timed epochs on request."""

    def __init__(self, workload, threads, x, y, args):
        import torch
        self.torch = torch
        torch.set_num_threads(threads)
        torch.manual_seed(args.seed)
        self.workload, self.threads, self.x, self.y, self.args = workload, threads, x, y, args
        self.model, self.opt, self.batch = build(workload)
        self.model.train()
        self.loss_fn = torch.nn.CrossEntropyLoss()
        self.n = x.shape[0]
        self.steps_per_epoch = math.ceil(self.n / self.batch)
        self.gen = torch.Generator().manual_seed(args.seed + 1)
        self.epochs_done = 0
        # Untimed warm-up (first-touch allocations, thread pools, caches).
        perm = torch.randperm(self.n, generator=self.gen)
        for s in range(min(args.warmup_steps, self.steps_per_epoch)):
            self.step(perm[s * self.batch:(s + 1) * self.batch])

    def step(self, idx):
        xb = self.x.index_select(0, idx)
        yb = self.y.index_select(0, idx)
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.model(xb), yb)
        loss.backward()
        self.opt.step()
        return loss.detach()

    def epoch(self):
        """One timed epoch over a fresh permutation: {sample, steps, extrapolated, loss}."""
        torch, batch = self.torch, self.batch
        perm = torch.randperm(self.n, generator=self.gen)
        loss_sum = torch.zeros(())
        t0 = time.perf_counter()
        done = 0
        elapsed = 0.0
        for s in range(self.steps_per_epoch):
            idx = perm[s * batch:(s + 1) * batch]
            loss_sum += self.step(idx) * idx.numel()
            done += 1
            elapsed = time.perf_counter() - t0
            if elapsed > self.args.max_seconds and done < self.steps_per_epoch:
                break
        seen = min(done * batch, self.n)
        extrapolated = done < self.steps_per_epoch
        sample = elapsed / done * self.steps_per_epoch if extrapolated else elapsed
        loss = float(loss_sum) / seen
        self.epochs_done += 1
        log(f'pytorch {self.workload} threads={self.threads} epoch {self.epochs_done}: '
            f'{sample:.3f} s/epoch ({done}/{self.steps_per_epoch} steps in {elapsed:.3f} s'
            f'{", extrapolated" if extrapolated else ""}), loss {loss:.4f}')
        return {'sample': sample, 'steps': done, 'extrapolated': extrapolated,
                'loss': loss if math.isfinite(loss) else None}


def run_workload(workload, threads, x, y, args):
    session = Session(workload, threads, x, y, args)
    epochs = [session.epoch() for _ in range(args.epochs)]
    samples = [e['sample'] for e in epochs]
    return {
        'peer': 'pytorch', 'workload': workload, 'threads': threads,
        'sPerEpoch': statistics.median(samples), 'samples': samples,
        'extrapolated': any(e['extrapolated'] for e in epochs),
        'stepsMeasured': sum(e['steps'] for e in epochs),
        'finalLoss': epochs[-1]['loss'],
        'version': session.torch.__version__,
    }


def serve(workload, threads, x, y, args):
    """The --serve loop: epochs on request (see the module's docstring)."""
    session = Session(workload, threads, x, y, args)
    print(json.dumps({'ready': True, 'workload': workload, 'threads': threads,
                      'version': session.torch.__version__}), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == 'quit':
            break
        if command != 'epoch':
            log(f'torch_workloads --serve: unknown command {command!r} (expected epoch or quit)')
            return 2
        print(json.dumps({'epoch': session.epochs_done + 1, **session.epoch()}), flush=True)
    return 0


def child_env(threads):
    env = dict(os.environ)
    for k in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
        env[k] = str(threads)
    # ATen's OpenMP workers must wait passively: with libgomp's default spinning they take the
    # cores from OpenBLAS's own pthreads (W1 at 2 threads: 5.69 s per epoch against 1.30 s
    # passive, Emerald Rapids, 2026-11-24). Earlier benchmarks got this by accident: deepnode's
    # addon set OMP_WAIT_POLICY=passive in the benchmark's own environment, which PyTorch inherited.
    env.setdefault('OMP_WAIT_POLICY', 'passive')
    return env


def main(argv):
    args = parse_args(argv)
    if args.blas_threads == 'match' and not args.child:
        # One child process per thread count, so OpenBLAS's own pool is sized before it starts.
        base = [a for a in argv]
        # drop the --threads option from the forwarded arguments
        fwd = []
        skip = False
        for a in base:
            if skip:
                skip = False
                continue
            if a == '--threads':
                skip = True
                continue
            if a.startswith('--threads='):
                continue
            fwd.append(a)
        status = 0
        for t in args.threads:
            # The child inherits stdin and stdout: in --serve mode it talks to the caller directly.
            r = subprocess.run([sys.executable, os.path.abspath(__file__), *fwd, '--threads', str(t), '--child'],
                               env=child_env(t))
            status = status or r.returncode
        return status
    try:
        import torch  # noqa: F401
    except ImportError as e:
        log(f'torch_workloads: cannot import torch ({e}); install python3-torch')
        return 3
    x, y = load_data(args.data, args.n)
    log(f'torch {torch.__version__}, OMP_NUM_THREADS={os.environ.get("OMP_NUM_THREADS")}, '
        f'OPENBLAS_NUM_THREADS={os.environ.get("OPENBLAS_NUM_THREADS")}, {args.n} images')
    if args.serve:
        return serve(args.workloads[0], args.threads[0], x, y, args)
    for t in args.threads:
        for w in args.workloads:
            print(json.dumps(run_workload(w, t, x, y, args)), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
