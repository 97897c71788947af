"""Benchmark: bplint's time and memory against the size of one file (issue 11, big inputs).

    python tests/benchmark_scale.py [--out DIR] [--only big|long|chain] [--write-only] [--quick]

Three generated inputs (written by ``big_module``, ``long_function`` and ``chain`` below, all
backprop-shaped numpy code: layers, dot products, activation derivatives, updates), each at
growing sizes so that the growth can be read off:

- big: a module of many layer classes and training functions (3.4 MB at the largest size);
- long: one function of 100,000 lines (forward, backward and update statements over 30 weight
  matrices);
- chain: ``delta = np.dot(W.T, delta) * 0.5`` repeated N times in one function (N = 90, 300,
  1000): every binding of ``delta`` reads the one before.

Each file is linted by a fresh ``bplint check --no-cache --jobs 1`` process under
``/usr/bin/time -v`` (when it exists; otherwise ``resource`` figures of the child); the script
prints the wall time, the CPU time (user + system) and the peak resident memory of each run,
and the ratio to the previous size. Timings are measured, not asserted: this script is not part
of the test suite (``tests/test_scaling.py`` counts operations instead).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
ACTS = ("sigmoid", "tanh", "relu")
PRIMES = {
    "sigmoid": "{a} * (1 - {a})",
    "tanh": "(1 - {a} ** 2)",
    "relu": "({a} > 0)",
}
FORWARDS = {
    "sigmoid": "1 / (1 + np.exp(-{z}))",
    "tanh": "np.tanh({z})",
    "relu": "np.maximum(0, {z})",
}


def _layer_block(i: int) -> str:
    """A layer class and a training function over it (~1.6 kB, ~45 lines), varied by ``i``."""
    act = ACTS[i % 3]
    prod = ("np.dot({a}, {b})", "{a} @ {b}", "{a}.dot({b})")[i % 3]
    return f'''
def {act}_{i}(z):
    return {FORWARDS[act].format(z="z")}


def {act}_prime_{i}(a):
    return {PRIMES[act].format(a="a")}


class Layer{i}:
    """A dense layer with a {act} activation."""

    def __init__(self, n_in, n_out, seed={i}):
        rng = np.random.default_rng(seed)
        self.W = rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)
        self.b = np.zeros((n_out, 1))

    def forward(self, x):
        self.x = x
        self.z = {prod.format(a="self.W", b="x")} + self.b
        self.a = {act}_{i}(self.z)
        return self.a

    def backward(self, delta, lr={0.01 * (1 + i % 7):.2f}):
        delta = delta * {act}_prime_{i}(self.a)
        dW = {prod.format(a="delta", b="self.x.T")} / self.x.shape[1]
        db = np.sum(delta, axis=1, keepdims=True) / self.x.shape[1]
        out = {prod.format(a="self.W.T", b="delta")}
        self.W -= lr * dW
        self.b -= lr * db
        return out


def train_{i}(X, Y, sizes, epochs={10 + i % 5}, lr=0.1):
    layers = [Layer{i}(a, b) for a, b in zip(sizes[:-1], sizes[1:])]
    for epoch in range(epochs):
        a = X
        for layer in layers:
            a = layer.forward(a)
        loss = 0.5 * np.mean((a - Y) ** 2)
        delta = (a - Y) / Y.shape[1]
        for layer in reversed(layers):
            delta = layer.backward(delta, lr)
        if epoch % 10 == 0:
            print(epoch, loss)
    return layers
'''


def big_module(size: int) -> str:
    """A module of about ``size`` bytes: layer classes and training functions."""
    parts = ["import numpy as np\n"]
    total, i = len(parts[0]), 0
    while total < size:
        block = _layer_block(i)
        parts.append(block)
        total += len(block)
        i += 1
    return "".join(parts)


def long_function(lines: int) -> str:
    """One function of about ``lines`` lines: forward, backward and updates over 30 weights."""
    n_w = 30
    head = [
        "import numpy as np",
        "",
        "",
        "def train(X, Y, " + ", ".join(f"W{k}" for k in range(n_w)) + ", lr=0.01):",
        "    a0 = X",
    ]
    body: list[str] = []
    i = 0
    while len(body) < lines:
        k = i % n_w
        act = ACTS[i % 3]
        prime = PRIMES[act].format(a=f"a{k + 1}")
        body += [
            f"    z{k + 1} = np.dot(W{k}, a{k})",
            f"    a{k + 1} = {FORWARDS[act].format(z=f'z{k + 1}')}",
            f"    d{k + 1} = (a{k + 1} - Y) * {prime}",
            f"    g{k} = np.dot(d{k + 1}, a{k}.T) / X.shape[1]",
            f"    back{k} = np.dot(W{k}.T, d{k + 1})",
            f"    W{k} -= lr * g{k}",
        ]
        i += 1
    return "\n".join(head + body[:lines] + ["    return W0", ""])


def chain(n: int) -> str:
    """``delta = np.dot(W.T, delta) * 0.5`` ``n`` times in one backward function."""
    body = "    delta = np.dot(W.T, delta) * 0.5\n" * n
    return f"import numpy as np\n\n\ndef backward(W, delta):\n{body}    return delta\n"


SERIES = {
    "big": ("bytes", big_module, (425_000, 850_000, 1_700_000, 3_400_000)),
    "long": ("lines", long_function, (12_500, 25_000, 50_000, 100_000)),
    "chain": ("links", chain, (90, 300, 1000)),
}


def measure(path: Path) -> tuple[float, float, float, int, str]:
    """(wall s, CPU s, peak RSS MB, exit code, last line of stdout) of one bplint run."""
    cmd = [str(BIN / "bplint"), "check", "--no-cache", "--jobs", "1", str(path)]
    timed = Path("/usr/bin/time").exists()
    if timed:
        cmd = ["/usr/bin/time", "-v", *cmd]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rss = after.ru_maxrss / 1024
    if timed:
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
        if m:
            rss = int(m.group(1)) / 1024
    out = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    return wall, cpu, rss, proc.returncode, out[-1] if out else proc.stderr.strip()[-80:]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "bplint-scale")
    ap.add_argument("--only", choices=sorted(SERIES), action="append")
    ap.add_argument("--write-only", action="store_true", help="write the inputs, run nothing")
    ap.add_argument("--quick", action="store_true", help="only the two smallest sizes of each")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"load average {os.getloadavg()[0]:.1f}; bplint {BIN / 'bplint'}")
    for name in args.only or list(SERIES):
        unit, make, sizes = SERIES[name]
        if args.quick:
            sizes = sizes[:2]
        print(f"\n{name} ({unit}):")
        print(f"  {'size':>10} {'bytes':>10} {'wall s':>7} {'cpu s':>7} {'x cpu':>6} {'RSS MB':>7}")
        prev = None
        for size in sizes:
            text = make(size)
            path = args.out / f"{name}_{size}.py"
            path.write_text(text, encoding="utf-8")
            if args.write_only:
                print(f"  {size:>10} {len(text.encode()):>10} {path}")
                continue
            wall, cpu, rss, rc, last = measure(path)
            ratio = f"{cpu / prev:6.2f}" if prev else " " * 6
            prev = cpu
            print(
                f"  {size:>10} {len(text.encode()):>10} {wall:7.2f} {cpu:7.2f} {ratio} "
                f"{rss:7.0f}  exit {rc}: {last[:60]}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
