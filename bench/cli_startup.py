"""`claims list` as a whole process: wall time of the command, of `import starter`, and of
a bare interpreter (`python -c pass`, the baseline), interleaved in the same run.

    python -m bench.cli_startup [--repeat 15]

`claims list` runs against a fresh data directory whose read model is migrated and empty
(CLAIMFLOW_DATA_DIR, DATABASE_URL unset), so what is timed is start-up: imports, settings,
opening the database, one query, the table printed. Goal: under 0.5 s. The slowest imports
of `import starter` are listed after the figures (`python -X importtime`).
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
GOAL = 0.5


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return elapsed


def slowest_imports(env: dict[str, str], top: int = 12) -> list[tuple[int, str]]:
    """(cumulative µs, module) of the slowest top-level-ish imports of `import starter`."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import starter"], env=env,
                          capture_output=True, text=True)  # fmt: skip
    found = []
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if match and len(match[2]) <= 4:  # the modules starter imports, and theirs
            found.append((int(match[1]), match[3]))
    return sorted(found, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="timed runs of each (default 15)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"CLAIMFLOW_DATA_DIR": tmp}
        from claimflow.db import engine_for, migrate

        engine = engine_for(f"sqlite:///{tmp}/claims.db")
        migrate(engine)
        engine.dispose()
        cases = {
            "python -c pass (baseline)": [sys.executable, "-c", "pass"],
            "python -c 'import starter'": [sys.executable, "-c", "import starter"],
            "claims list (empty read model)": [str(BIN / "claims"), "list"],
        }
        for argv in cases.values():  # warm-up: the file cache, .pyc files
            timed(argv, env)
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.repeat):
            for name, argv in cases.items():
                times[name].append(timed(argv, env))
        base = statistics.median(times["python -c pass (baseline)"])
        print(f"CLI start-up; Python {sys.version.split()[0]}, {os.cpu_count()} cores, {args.repeat} runs each, "
              f"interleaved; goal: claims list < {GOAL} s")  # fmt: skip
        print(f"{'':<32} {'p50':>7} {'p95':>7} {'vs baseline':>12}")
        for name, runs in times.items():
            p50 = statistics.median(runs)
            p95 = statistics.quantiles(runs, n=20)[-1] if len(runs) > 1 else runs[0]
            print(f"{name:<32} {p50:>6.3f}s {p95:>6.3f}s {p50 / base:>11.1f}x")
        print("\nslowest imports of `import starter` (cumulative, ms):")
        for micros, module in slowest_imports(env):
            print(f"  {micros / 1000:7.1f}  {module}")


if __name__ == "__main__":
    main()
